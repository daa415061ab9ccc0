"""codesign's RTL max-pool as FINN's ``Pool_rtl`` (finn-plus 1.6.1 has only ``Pool_hls``).

FINN lowers a max-pool to a depthwise sliding-window generator followed by a ``Pool``
node (``Function="MaxPool"``). :class:`Pool_rtl` is that node's RTL backend, registered
the way finn-plus registers its own (:func:`codesign.finn.lut_mvau.register` installs it),
with the kernel ``codesign/hls/rtl/pool/codesign_maxpool.sv``. Node execution, shapes, stream widths
and ``exp_cycles`` are finn-plus's ``Pool``. :class:`SpecializeMaxPool` turns abstract
max-pool ``Pool`` nodes into ``Pool_rtl`` before finn-plus's SpecializeLayers (which would
pick HLS). Average and accumulating pools stay unsupported (HLS-only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import numpy as np
from finn.custom_op.fpgadataflow.pool import Pool
from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from codesign.finn.kernels import (
    RTL_DIR,
    SHARED_DIR,
    copy_kernel_sources,
    register_rtl_op,
    specialize_nodes,
)

KERNEL_DIR = RTL_DIR / "pool"
KERNEL_SOURCES = ("codesign_maxpool.sv",)
WRAPPER_TEMPLATE = "maxpool_wrapper.v.j2"


class Pool_rtl(Pool, RTLBackend):  # noqa: N801 - FINN looks ops up by class name
    """RTL backend of FINN's Pool layer for ``Function == "MaxPool"``."""

    def get_nodeattr_types(self) -> dict[str, Any]:  # noqa: D102
        attrs = Pool.get_nodeattr_types(self)
        attrs.update(RTLBackend.get_nodeattr_types(self))
        return attrs

    def execute_node(self, context: dict, graph: Any) -> None:  # noqa: ANN401, D102
        if self.get_nodeattr("exec_mode") == "rtlsim":
            RTLBackend.execute_node(self, context, graph)
        else:
            Pool.execute_node(self, context, graph)

    def lut_estimation(self, fpgapart: str) -> int:  # noqa: ARG002
        """One comparator and mux per lane, plus the running-maximum registers' muxes."""
        width = self.get_input_datatype().bitwidth()
        return int(2 * self.get_nodeattr("PE") * width + 20)

    def bram_estimation(self, fpgapart: str) -> int:  # noqa: ARG002, D102
        return 0

    def _shared_dir(self) -> Path:
        return Path(self.get_nodeattr("code_gen_dir_ipgen")).parent / SHARED_DIR

    def generate_hdl(self, model: ModelWrapper, fpgapart: str, clk: float) -> None:  # noqa: ARG002
        """Render the wrapper, copy the kernel into the build's shared folder."""
        if self.get_nodeattr("Function") != "MaxPool":
            raise ValueError(f"{self.onnx_node.name}: Pool_rtl implements MaxPool only")
        code_gen_dir = Path(self.get_nodeattr("code_gen_dir_ipgen"))
        top = self.get_verilog_top_module_name()
        self.set_nodeattr("gen_top_module", top)
        idt = self.get_input_datatype()
        pe = int(self.get_nodeattr("PE"))
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(KERNEL_DIR),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )
        text = env.get_template(WRAPPER_TEMPLATE).render(
            node=self.onnx_node.name,
            module=top,
            pe=pe,
            cf=int(self.get_nodeattr("Channels")) // pe,
            k=int(np.prod(self.get_nodeattr("KernelSize"))),
            width=idt.bitwidth(),
            signed=int(idt.signed()),
            stream_width=int(self.get_instream_width_padded()),
        )
        (code_gen_dir / f"{top}_wrapper.v").write_text(text)
        copy_kernel_sources(self._shared_dir(), KERNEL_DIR, KERNEL_SOURCES)
        self.set_nodeattr("ipgen_path", str(code_gen_dir))
        self.set_nodeattr("ip_path", str(code_gen_dir))

    def get_rtl_file_list(self, abspath: bool = False) -> list[str]:  # noqa: D102
        wrapper = self.get_nodeattr("gen_top_module") + "_wrapper.v"
        if not abspath:
            return [wrapper, *KERNEL_SOURCES]
        code_gen_dir = Path(self.get_nodeattr("code_gen_dir_ipgen"))
        return [str(code_gen_dir / wrapper), *(str(self._shared_dir() / f) for f in KERNEL_SOURCES)]

    def get_verilog_paths(self) -> list[str]:  # noqa: D102
        return [*super().get_verilog_paths(), str(self._shared_dir())]

    def code_generation_ipi(self) -> list[str]:
        """Vivado IPI: add the sources and instantiate the wrapper as a module."""
        cmd = [f"add_files -norecurse {f}" for f in self.get_rtl_file_list(abspath=True)]
        cmd.append(
            "create_bd_cell -type module -reference "
            f"{self.get_nodeattr('gen_top_module')} {self.onnx_node.name}"
        )
        return cmd


class SpecializeMaxPool(Transformation):
    """Turn abstract ``Pool`` nodes with ``Function="MaxPool"`` into ``Pool_rtl``."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:  # noqa: D102
        register_rtl_op(Pool_rtl)
        specialize_nodes(
            model, "Pool", "Pool_rtl", lambda inst: inst.get_nodeattr("Function") == "MaxPool"
        )
        return model, False
