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


def _is_per_tensor_threshold(model: ModelWrapper, node: object) -> bool:
    """A MultiThreshold whose thresholds are one row (the same for every channel)."""
    if node is None or node.op_type != "MultiThreshold":
        return False
    thresholds = model.get_initializer(node.input[1])
    return thresholds is not None and thresholds.ndim == 2 and thresholds.shape[0] == 1


def _flattens_batch(model: ModelWrapper, node: object) -> bool:
    """A Reshape/Flatten that turns ``(B, ...)`` into ``(B, rest)``: a no-op on the data order."""
    if node is None or node.op_type not in ("Reshape", "Flatten"):
        return False
    ishape = model.get_tensor_shape(node.input[0])
    oshape = model.get_tensor_shape(node.output[0])
    return (
        ishape is not None
        and oshape is not None
        and len(oshape) == 2
        and ishape[0] == oshape[0]
        and len(ishape) > 2
    )


class MoveLeadingFlattenToHost(Transformation):
    """Keep a flatten at the network's input on the host, ahead of a per-tensor quantizer.

    A Brevitas MLP flattens its image either before or after its input quantizer. In the
    graph that is ``input -> Flatten -> MultiThreshold`` or ``input -> MultiThreshold ->
    Flatten``. finn-plus 1.6.1 then makes the flatten a ``Reshape_rtl`` node at the head of
    the dataflow (one element per cycle: the bottleneck), or leaves a one-channel
    Thresholding over 28x28 pixels (PE <= 1: 784 cycles/frame). Flattening is a no-op on
    the element order of the host's NCHW buffer, so it belongs on the host, like the
    input Transpose FINN already leaves there. This pass:

    1. swaps ``MultiThreshold -> Flatten`` when the thresholds are per-tensor (one row: the
       same comparison for every element, so the order of the two does not matter), and
    2. turns the leading ``Reshape`` into an ONNX ``Flatten(axis=1)``, which FINN keeps in
       the parent graph (``InferReshape`` would make a ``Reshape`` a HW layer).

    The Thresholding that follows then has one channel per input element with per-tensor
    thresholds, so SetFolding can raise its PE (finn-plus's RTL stores per-tensor
    thresholds once per PE, not per channel; see :mod:`codesign.finn.estimate_fixes`).
    """

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:  # noqa: D102
        from onnx import helper

        graph = model.graph
        for inp in graph.input:
            first = model.find_consumer(inp.name)
            if _is_per_tensor_threshold(model, first):
                second = model.find_consumer(first.output[0])
                if (
                    _flattens_batch(model, second)
                    and len(model.find_consumers(first.output[0])) == 1
                ):
                    # input -> MT -> flat -> X   becomes   input -> flat -> MT -> X
                    flat_out, mt_out = second.output[0], first.output[0]
                    second.input[0] = inp.name
                    first.input[0] = flat_out
                    for consumer in model.find_consumers(flat_out) or []:
                        if consumer is not first:
                            for k, name in enumerate(consumer.input):
                                if name == flat_out:
                                    consumer.input[k] = mt_out
                    dt = model.get_tensor_datatype(mt_out)
                    model.set_tensor_shape(mt_out, model.get_tensor_shape(flat_out))
                    model.set_tensor_datatype(mt_out, dt)
                    model.set_tensor_datatype(flat_out, model.get_tensor_datatype(inp.name))
                    # channels stay on axis 1; the layout now has the flattened rank
                    getCustomOp(first).set_nodeattr("data_layout", "NC")
                    _reorder(graph, second, first)
                    log.info("moved leading %s ahead of %s", second.name, first.name)
                    return model, True
            if first is not None and first.op_type == "Reshape" and _flattens_batch(model, first):
                flat = helper.make_node(
                    "Flatten", [first.input[0]], [first.output[0]], name=first.name, axis=1
                )
                index = list(graph.node).index(first)
                graph.node.remove(first)
                graph.node.insert(index, flat)
                log.info("leading %s stays on the host as Flatten", first.name)
                return model, True
        return model, False


def _reorder(graph: object, before: object, after: object) -> None:
    """Place node ``before`` directly ahead of node ``after`` in the graph's node list."""
    nodes = list(graph.node)
    nodes.remove(before)
    nodes.insert(nodes.index(after), before)
    del graph.node[:]
    graph.node.extend(nodes)


#: ``auto`` picks the LUT kernel when both operands are at most this many bits.
AUTO_LUT_MAX_BITS = 4


class SelectMvauImpl(Transformation):
    """Set ``resType`` (``"lut"`` or ``"dsp"``) on every abstract MVAU, in graph order.

    Args:
        choices: One choice per MVAU (``dsp``, ``lut`` or ``auto``); missing entries use
            ``default``.
        default: The choice for MVAUs beyond ``choices``.
        fpgapart: Target part (decides whether the DSP kernel can take a layer).
        board_dsp: The board's DSP count; 0 makes ``auto`` choose LUTs everywhere.

    ``auto`` chooses LUTs when weights and activations are both <= 4 bits
    (:data:`AUTO_LUT_MAX_BITS`), when the DSP kernel cannot implement the layer (1-bit or
    XNOR layers, unsigned weights, full-range weights on 7-series) or when the board has no
    DSPs; otherwise DSPs. An explicit ``dsp`` is kept even where the DSP kernel cannot take
    the layer: the support check then names the layer and the fix.
    """

    def __init__(
        self, choices: tuple[str | None, ...], default: str, fpgapart: str, board_dsp: float
    ) -> None:
        super().__init__()
        self.choices = choices
        self.default = default
        self.fpgapart = fpgapart
        self.board_dsp = board_dsp

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:  # noqa: D102
        from finn.transformation.fpgadataflow.specialize_layers import _mvu_rtl_possible

        from codesign.finn.lut_mvau import lut_unsupported_reason

        mvaus = [n for n in model.graph.node if n.op_type == "MVAU"]
        for index, node in enumerate(mvaus):
            inst = getCustomOp(node)
            choice = self.choices[index] if index < len(self.choices) else None
            choice = str(choice or self.default)
            if choice == "auto":
                w = inst.get_input_datatype(1).bitwidth()
                a = inst.get_input_datatype(0).bitwidth()
                lut_ok = not lut_unsupported_reason(inst)
                small = max(w, a) <= AUTO_LUT_MAX_BITS
                dsp_ok = _mvu_rtl_possible(node, self.fpgapart, model) and self.board_dsp > 0
                choice = "lut" if lut_ok and (small or not dsp_ok) else "dsp"
            inst.set_nodeattr("resType", choice)
            log.info("%s: %s MVAU", node.name, choice.upper())
        return model, False
