"""Graph rewrites codesign adds to FINN's: qonnx Transformations configured by constructor."""

from __future__ import annotations

import logging

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

log = logging.getLogger(__name__)


class PreferRTL(Transformation):
    """Set ``preferred_impl_style="rtl"`` on abstract MVAU/VVAU nodes.

    Without it finn-plus 1.6.1 only picks the RTL MVU for >= 4-bit weights and
    activations; with it, 2- and 3-bit layers (and +-1 weights with wider activations)
    become MVAU_rtl too, which TOOLCHAIN.md records as Verilator-verified.
    """

    def __init__(self, op_types: tuple[str, ...] = ("MVAU", "VVAU")) -> None:
        super().__init__()
        self.op_types = op_types

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:  # noqa: D102
        for node in model.graph.node:
            if node.op_type in self.op_types:
                getCustomOp(node).set_nodeattr("preferred_impl_style", "rtl")
        return model, False


def largest_proper_divisor(n: int) -> int:
    """The largest divisor of ``n`` smaller than ``n`` (1 for n <= 1 and for primes)."""
    for d in range(n // 2, 0, -1):
        if n % d == 0:
            return d
    return 1


class AvoidFullSimdMvau(Transformation):
    """Keep every MVAU_rtl's SIMD below MW.

    finn-plus 1.6.1's RTL MVU (``mvu_vvu_axi.sv``) loses outputs and then hangs under
    output backpressure when SIMD == MW, i.e. when a whole input row arrives in one
    cycle: its output queue is sized for ``MAX_IN_FLIGHT`` results, which is too small
    at that folding (TOOLCHAIN.md: seen in Verilator at 10% sink-ready and with depth-2
    FIFOs in the first frame; a deeper queue fixed it). Until that is fixed upstream, a
    node with SIMD == MW gets SIMD = the largest proper divisor of MW, and its PE is
    raised to the smallest divisor of MH that keeps its cycles per frame where they were
    (or to MH when none does), so the guard costs DSPs rather than throughput.
    """

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:  # noqa: D102
        for node in model.get_nodes_by_op_type("MVAU_rtl"):
            inst = getCustomOp(node)
            mw, simd = int(inst.get_nodeattr("MW")), int(inst.get_nodeattr("SIMD"))
            if simd != mw or mw <= 1:
                continue
            mh, pe = int(inst.get_nodeattr("MH")), int(inst.get_nodeattr("PE"))
            cycles = inst.get_exp_cycles()
            inst.set_nodeattr("SIMD", largest_proper_divisor(mw))
            for cand in (d for d in range(pe, mh + 1) if mh % d == 0):
                inst.set_nodeattr("PE", cand)
                if inst.get_exp_cycles() <= cycles:
                    break
            log.info(
                "%s: SIMD %d == MW would hit the MVAU_rtl backpressure bug; SIMD -> %d, "
                "PE %d -> %d, cycles %d -> %d",
                node.name,
                simd,
                inst.get_nodeattr("SIMD"),
                pe,
                inst.get_nodeattr("PE"),
                cycles,
                inst.get_exp_cycles(),
            )
        return model, False
