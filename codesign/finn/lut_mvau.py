"""The LUT-based RTL MVU as a FINN layer: ``MVAU_rtl`` with ``resType="lut"``.

finn-plus 1.6.1's ``MVAU_rtl`` is DSP-only and rejects ``resType="lut"`` ("LUT-based
RTL-MVU implementation currently not supported"), the attribute FINN's HLS MVAU already
uses to choose LUT or DSP multipliers. codesign fills that gap the way upstream FINN does
(PRs #1560/#1648: a LUT compressor tree inside ``MVAU_rtl``, selected by ``resType``): the
:class:`MVAU_rtl` below subclasses finn-plus's, and only when ``resType == "lut"`` swaps the
compute kernel for codesign's (``codesign/hls/rtl/mvu_lut``). Everything else (node attributes,
execution, folding, weight memory and its memstream, stream widths, ``exp_cycles``, BRAM
estimate, FINN's own passes that look for ``MVAU_rtl``) is finn-plus's, unchanged.
docs/lowbit.md gives the reasons for this choice over a new op type.

:func:`register` installs the class under finn-plus's name in finn-plus's RTL op table,
the way finn-plus registers its own ops (``register_custom_op``) and in qonnx's lookup
cache. It is idempotent and called by every entry point that reads a model (compile,
simulation, synthesis, the build folder), never at import time. Without it, a
``resType="lut"`` node fails loudly in finn-plus's own class, never silently as DSP.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import jinja2
from finn.custom_op.fpgadataflow.rtl.matrixvectoractivation_rtl import (
    MVAU_rtl as _FinnMVAU_rtl,
)
from finn.util.settings import get_settings
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from codesign.finn.kernels import (
    RTL_DIR,
    SHARED_DIR,
    register_rtl_op,
    specialize_nodes,
)
from codesign.finn.kernels import copy_kernel_sources as _copy_sources

log = logging.getLogger(__name__)

KERNEL_DIR = RTL_DIR / "mvu_lut"
#: Kernel sources, in compile order (the wrapper is generated per node).
KERNEL_SOURCES = ("codesign_mvu_lut_core.sv", "codesign_mvu_lut_axi.sv")
WRAPPER_TEMPLATE = "mvu_lut_wrapper.v.j2"
#: Folder (beside the nodes' code_gen_ipgen_* folders) that holds one copy of the kernel
#: sources for all LUT MVUs of a build, so every tool sees one definition per module.
#: Adder-tree levels per pipeline stage (see codesign_mvu_lut_core.sv).
LEVELS_PER_STAGE = 2
MAX_BITS = 8
#: finn-plus builder step (resolved by module path) that registers the LUT kernel first.
LUT_MVAU_STEP = "codesign.finn.lut_mvau.step_register_lut_mvau"


class MVAU_rtl(_FinnMVAU_rtl):  # noqa: N801 - FINN looks ops up by class name
    """finn-plus's RTL MVAU, with codesign's LUT kernel when ``resType == "lut"``."""

    def is_lut(self) -> bool:
        """True when this node uses the LUT kernel."""
        return self.get_nodeattr("resType") == "lut"

    # -- kernel parameters ------------------------------------------------------------
    def lut_kernel_params(self) -> dict[str, int]:
        """The kernel's parameters (MODE and operand signedness) for this node.

        Raises:
            ValueError: The operand types are outside what the kernel implements.
        """
        problem = lut_unsupported_reason(self)
        if problem:
            raise ValueError(f"{self.onnx_node.name}: {problem}")
        idt, wdt = self.get_input_datatype(0), self.get_input_datatype(1)
        if self.get_nodeattr("binaryXnorMode"):
            mode = 2
        elif wdt == DataType["BIPOLAR"]:
            mode = 1
        else:
            mode = 0
        return {
            "mode": mode,
            "signed_act": int(idt.min() < 0 and mode != 2),
            "signed_weights": int(wdt.signed() and mode == 0),
            "act_width": idt.bitwidth(),
            "weight_width": wdt.bitwidth(),
        }

    # -- estimates --------------------------------------------------------------------
    def lut_estimation(self, fpgapart: str) -> int:
        """FINN-R LUT model of the HLS MVAU (with LUT multipliers) for the LUT kernel."""
        if not self.is_lut():
            return super().lut_estimation(fpgapart)
        from finn.custom_op.fpgadataflow.hls.matrixvectoractivation_hls import MVAU_hls

        return int(MVAU_hls.lut_estimation(self, fpgapart))

    def dsp_estimation(self, fpgapart: str) -> int:
        """No DSPs for the LUT kernel; finn-plus's count otherwise."""
        return 0 if self.is_lut() else super().dsp_estimation(fpgapart)

    # -- HDL --------------------------------------------------------------------------
    def generate_hdl(self, model: ModelWrapper, fpgapart: str, clk: float) -> None:
        """Write the wrapper, the memstream and the kernel sources (LUT) or defer to FINN."""
        if not self.is_lut():
            super().generate_hdl(model, fpgapart, clk)
            return
        if self.get_nodeattr("mem_mode") != "internal_decoupled":
            raise ValueError(
                f"{self.onnx_node.name}: the LUT MVU supports mem_mode internal_decoupled only"
            )
        code_gen_dir = self.get_nodeattr("code_gen_dir_ipgen")
        self.generate_params(model, code_gen_dir)
        top = self.get_verilog_top_module_name()
        self.set_nodeattr("gen_top_module", top)
        Path(code_gen_dir, f"{top}_wrapper.v").write_text(render_wrapper(self, top))
        self.generate_infra_hdl(fpgapart)
        copy_kernel_sources(Path(code_gen_dir).parent / SHARED_DIR)
        self.set_nodeattr("ipgen_path", code_gen_dir)
        self.set_nodeattr("ip_path", code_gen_dir)

    def _shared_dir(self) -> Path:
        return Path(self.get_nodeattr("code_gen_dir_ipgen")).parent / SHARED_DIR

    def get_rtl_file_list(self, abspath: bool = False) -> list[str]:
        """Wrapper, kernel sources and finn-rtllib's replay buffer (LUT), or FINN's list."""
        if not self.is_lut():
            return super().get_rtl_file_list(abspath)
        wrapper = self.get_nodeattr("gen_top_module") + "_wrapper.v"
        if not abspath:
            return [wrapper, *KERNEL_SOURCES, "replay_buffer.sv"]
        code_gen_dir = self.get_nodeattr("code_gen_dir_ipgen")
        return [
            str(Path(code_gen_dir) / wrapper),
            *(str(self._shared_dir() / f) for f in KERNEL_SOURCES),
            str(Path(get_settings().finn_rtllib) / "mvu" / "replay_buffer.sv"),
        ]

    def get_verilog_paths(self) -> list[str]:  # noqa: D102
        paths = super().get_verilog_paths()
        if self.is_lut():
            paths.append(str(self._shared_dir()))
        return paths

    def instantiate_ip(self, cmd: list[str]) -> None:
        """Vivado IPI: add the wrapper and kernel sources, instantiate the wrapper."""
        if not self.is_lut():
            super().instantiate_ip(cmd)
            return
        node_name = self.onnx_node.name
        top = self.get_nodeattr("gen_top_module")
        for f in self.get_rtl_file_list(abspath=True):
            cmd.append(f"add_files -norecurse {f}")
        # internal_decoupled: inside the hierarchy MVAU.code_generation_ipi creates
        cmd.append(f"create_bd_cell -type hier -reference {top} /{node_name}/{node_name}")
        clk_name = self.get_verilog_top_module_intf_names()["clk"][0]
        cmd.append(
            f"connect_bd_net [get_bd_pins {node_name}/{clk_name}] "
            f"[get_bd_pins {node_name}/{node_name}/ap_clk2x]"
        )


def lut_unsupported_reason(inst: Any) -> str:  # noqa: ANN401 - a FINN MVAU instance
    """Why the LUT kernel cannot implement this MVAU/MVAU_rtl node ("" when it can)."""
    idt, wdt = inst.get_input_datatype(0), inst.get_input_datatype(1)
    if inst.get_nodeattr("noActivation") == 0:
        return "its activation is fused into the MVAU (the LUT MVU needs standalone thresholds)"
    if inst.get_nodeattr("binaryXnorMode"):
        return ""
    if not (idt.is_integer() and wdt.is_integer()):
        return f"{idt.name} x {wdt.name} is not an integer product"
    if idt == DataType["BIPOLAR"]:
        return "bipolar activations need bipolar weights (XNOR mode)"
    for dt, what in ((wdt, "weights"), (idt, "activations")):
        if dt.bitwidth() > MAX_BITS:
            return f"{dt.bitwidth()}-bit {what} exceed the LUT MVU's {MAX_BITS}-bit maximum"
    return ""


def render_wrapper(inst: MVAU_rtl, module: str) -> str:
    """The node's Verilog wrapper from ``codesign/hls/rtl/mvu_lut/mvu_lut_wrapper.v.j2``."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(KERNEL_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    return env.get_template(WRAPPER_TEMPLATE).render(
        node=inst.onnx_node.name,
        module=module,
        mw=inst.get_nodeattr("MW"),
        mh=inst.get_nodeattr("MH"),
        pe=inst.get_nodeattr("PE"),
        simd=inst.get_nodeattr("SIMD"),
        accu_width=inst.get_output_datatype().bitwidth(),
        levels_per_stage=LEVELS_PER_STAGE,
        **inst.lut_kernel_params(),
    )


def copy_kernel_sources(
    folder: Path, kernel_dir: Path = KERNEL_DIR, names: tuple[str, ...] = KERNEL_SOURCES
) -> None:
    """Copy the LUT MVU's sources (by default) into ``folder``."""
    _copy_sources(folder, kernel_dir, names)


def register() -> None:
    """Make finn-plus and qonnx resolve ``MVAU_rtl`` and ``Pool_rtl`` to codesign's classes.

    Idempotent; also installs codesign's RTL max-pool (:mod:`codesign.finn.pool_rtl`) and
    finn-plus's RTL data-width converter with its real ``exp_cycles``
    (:mod:`codesign.finn.dwc_rtl`).
    """
    from codesign.finn.dwc_rtl import StreamingDataWidthConverter_rtl
    from codesign.finn.pool_rtl import Pool_rtl

    register_rtl_op(MVAU_rtl)
    register_rtl_op(Pool_rtl)
    register_rtl_op(StreamingDataWidthConverter_rtl)


class SpecializeLutMVAU(Transformation):
    """Turn abstract ``MVAU`` nodes with ``resType="lut"`` into ``MVAU_rtl``.

    Runs before finn-plus's SpecializeLayers, which would otherwise send them to HLS
    (its ``_mvu_rtl_possible`` knows only the DSP kernel); SpecializeLayers leaves nodes
    that are already RTL alone. Attributes are copied as SpecializeLayers copies them.
    """

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:  # noqa: D102
        register()
        specialize_nodes(
            model, "MVAU", "MVAU_rtl", lambda inst: inst.get_nodeattr("resType") == "lut"
        )
        return model, False


def uses_lut_mvau(model: ModelWrapper) -> bool:
    """True when a node of ``model`` is an MVAU with ``resType="lut"``."""
    return any(
        n.op_type in ("MVAU", "MVAU_rtl") and getCustomOp(n).get_nodeattr("resType") == "lut"
        for n in model.graph.node
    )


def step_register_lut_mvau(model: ModelWrapper, cfg: object) -> ModelWrapper:  # noqa: ARG001
    """finn-plus builder step: register the LUT kernel before any other step runs."""
    register()
    return model
