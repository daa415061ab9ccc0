"""The one table of RTL node types codesign takes end to end: compile, simulate, synthesize.

``codesign compile`` refuses a dataflow graph with a node outside :data:`SUPPORTED` (naming
the node, why, and the fix) before generating any RTL; the Verilator stitcher
(:mod:`codesign.sim.stitch`) and the Yosys source collector (:mod:`codesign.synth.sources`)
read each node's :class:`RtlSupport` to know how to wire it and which files it needs beyond
FINN's ``get_rtl_file_list``. Adding a node type means adding one entry here (and a test
that simulates and synthesizes it; ``tests/foreign`` checks every entry has one).

Torch- and FINN-free: importing this module is cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Wiring(StrEnum):
    """How the stitched top (Verilator and Yosys) instantiates a node.

    Every node has one AXI-stream input ``in0_V`` and one output ``out0_V``; the wiring
    says what else it needs.
    """

    #: Only the streams (and clock/reset); other inputs tied off.
    STREAM = "plain"
    #: A weight stream ``in1_V`` from ``<top>_memstream_wrapper`` (Vivado wires it by Tcl).
    MVAU = "mvau"
    #: ``THRESHOLDS_PATH`` overridden to the node's ``<top>_threshs_*.dat`` in the build.
    THRESHOLDING = "thresholding"
    #: finn-rtllib's ``fifo`` module instantiated directly with the node's depth.
    FIFO = "fifo"


@dataclass(frozen=True)
class RtlSupport:
    """What compile, simulate and synth need for one RTL node type.

    Attributes:
        op_type: The specialized FINN op type (``MVAU_rtl``).
        wiring: How the stitched tops instantiate it.
        extra_rtllib: finn-rtllib files (relative to finn-rtllib) it needs that FINN's
            ``get_rtl_file_list`` leaves out.
        extra_node_files: Files of its ``code_gen_dir`` (``{top}`` = its top module) that
            ``get_rtl_file_list`` leaves out.
        data_globs: Memory-initialization files of its ``code_gen_dir`` the build needs.
        mem_modes: Allowed ``mem_mode`` values (empty: the node has no such attribute).
        what: Which layers of a Brevitas network become this node.
    """

    op_type: str
    wiring: Wiring
    extra_rtllib: tuple[str, ...] = ()
    extra_node_files: tuple[str, ...] = ()
    data_globs: tuple[str, ...] = ()
    mem_modes: tuple[str, ...] = ()
    what: str = ""


_MEMSTREAM_LIB = (
    "axi/hdl/axilite.sv",
    "memstream/hdl/memstream.sv",
    "memstream/hdl/memstream_axi.sv",
)

#: op type -> support. The order is the order the table is documented in.
SUPPORTED: dict[str, RtlSupport] = {
    s.op_type: s
    for s in (
        RtlSupport(
            "MVAU_rtl",
            Wiring.MVAU,
            extra_rtllib=_MEMSTREAM_LIB,
            extra_node_files=("{top}_memstream_wrapper.v",),
            data_globs=("memblock.dat",),
            mem_modes=("internal_decoupled",),
            what="QuantLinear / lowered QuantConv2d (finn-plus's DSP MVU, or codesign's LUT MVU "
            "with resType lut)",
        ),
        RtlSupport(
            "Thresholding_rtl",
            Wiring.THRESHOLDING,
            data_globs=("{top}_threshs_*.dat",),
            what="activation quantizers (QuantReLU, QuantIdentity, BatchNorm folded in)",
        ),
        RtlSupport(
            "ConvolutionInputGenerator_rtl",
            Wiring.STREAM,
            what="the sliding window of a convolution",
        ),
        RtlSupport("FMPadding_rtl", Wiring.STREAM, what="convolution padding"),
        RtlSupport(
            "StreamingDataWidthConverter_rtl",
            Wiring.STREAM,
            what="width converters FINN inserts between folded layers",
        ),
        RtlSupport("StreamingFIFO_rtl", Wiring.FIFO, what="FIFOs FINN inserts between layers"),
        RtlSupport(
            "Reshape_rtl",
            Wiring.STREAM,
            what="a reshape between HW layers that keeps the element order (a pass-through)",
        ),
        RtlSupport(
            "Pool_rtl",
            Wiring.STREAM,
            what="MaxPool2d after its sliding window (codesign's RTL max-pool, hls/)",
        ),
    )
}

#: The fix offered for a node type outside the table.
UNSUPPORTED_FIX = (
    "express the network with QuantConv2d/QuantLinear, BatchNorm, QuantReLU/QuantIdentity "
    "and stride-2 convolutions (see docs/foreign_models.md)"
)


def support_for(op_type: str) -> RtlSupport | None:
    """The table entry for a specialized op type (``MVAU_rtl``), or None."""
    return SUPPORTED.get(op_type)


def rtl_op_for(op_type: str) -> str:
    """The specialized RTL op type for an abstract or specialized one (``MVAU`` -> ``MVAU_rtl``)."""
    return op_type.removesuffix("_hls").removesuffix("_rtl") + "_rtl"


def unsupported_reason(op_type: str) -> str:
    """Why a node type outside the table is refused (one clause)."""
    return (
        f"{rtl_op_for(op_type)} is not among the RTL node types codesign can simulate and "
        f"synthesize ({', '.join(SUPPORTED)})"
    )
