"""Read-only questions about a FINN model: which nodes cannot become RTL, and why.

Two checks run during a compile:

* :func:`find_unsupported_nodes` right after the conversion to HW layers: a node that is
  not a FINN HW layer, sits between HW layers (or is not a plain host-side op at the
  graph's ends), or is a HW layer with no RTL implementation in finn-plus 1.6.1.
* :func:`find_hls_nodes` after specialization: any node whose implementation is not
  ``_rtl``, or is an ``_rtl`` type outside :data:`codesign.finn.support.SUPPORTED` (the
  one table of node types that simulate and synthesize, shared with sim/ and synth/).

Both return :class:`NodeIssue` lists; :func:`raise_if_issues` turns them into one
:class:`~codesign.errors.UnsupportedModelError` naming every node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from codesign.errors import UnsupportedModelError
from codesign.finn.support import SUPPORTED, UNSUPPORTED_FIX, rtl_op_for, unsupported_reason

if TYPE_CHECKING:
    from onnx import NodeProto
    from qonnx.core.modelwrapper import ModelWrapper

_HW_DOMAIN = "finn.custom_op.fpgadataflow"

#: Ops that may stay on the host before the first or after the last HW layer: input
#: scaling, output de-quantization and layout changes.
HOST_OPS = frozenset(
    {
        "Mul",
        "Add",
        "Sub",
        "Div",
        "Transpose",
        "Reshape",
        "Flatten",
        "Identity",
        "Squeeze",
        "Unsqueeze",
        "Cast",
    }
)

_POOL = "replace the max-pool by a stride-2 convolution (e.g. QuantConv2d(..., stride=2))"
_AVG = (
    "average pooling is HLS-only in finn-plus 1.6.1 (codesign's RTL pool implements max "
    "pooling only)"
)
_ARGMAX = "export the network without TopK/argmax and take the argmax on the host"

#: op type (before or after conversion to HW) -> (why it is not RTL, the RTL-friendly fix)
REPLACEMENTS: dict[str, tuple[str, str]] = {
    "MaxPool": ("this max-pool did not become FINN's Pool layer (padded or dilated?)", _POOL),
    "MaxPoolNHWC": ("this max-pool did not become FINN's Pool layer", _POOL),
    "Pool": (_AVG, _POOL),
    "AveragePool": (_AVG, "replace the average-pool by a stride-2 convolution or a max-pool"),
    "QuantAvgPool2d": (_AVG, "replace the average-pool by a stride-2 convolution or a max-pool"),
    "TopK": ("TopK becomes LabelSelect, which is HLS-only", _ARGMAX),
    "LabelSelect": ("LabelSelect (TopK) is HLS-only", _ARGMAX),
    "GlobalAveragePool": (
        "global pooling becomes GlobalAccPool, which is HLS-only",
        "end with flatten + QuantLinear (or a conv whose kernel covers the "
        "whole feature map) instead of global pooling",
    ),
    "GlobalAccPool": (
        "GlobalAccPool is HLS-only",
        "end with flatten + QuantLinear instead of global pooling",
    ),
    "DuplicateStreams": (
        "a tensor with several consumers (a residual fork) needs "
        "DuplicateStreams, which is HLS-only",
        "use a plain feed-forward chain without skip connections",
    ),
    "StreamingConcat": ("Concat is HLS-only", "avoid Concat; use a single feed-forward path"),
    "StreamingSplit": ("Split is HLS-only", "avoid Split; use a single feed-forward path"),
    "Concat": ("Concat is HLS-only", "avoid Concat; use a single feed-forward path"),
    "Split": ("Split is HLS-only", "avoid Split; use a single feed-forward path"),
    "Upsample": ("upsampling is HLS-only", "use a feed-forward down-sampling network"),
    "XnorPopcountMatMul": (
        "W1A1 (XNOR-popcount) layers have no DSP-based RTL MVU",
        "compile with --impl lut or auto (codesign's LUT MVU implements XNOR-popcount)",
    ),
}
_ELEMENTWISE = (
    "elementwise ops between layers are HLS-only on 7-series/UltraScale+",
    "remove elementwise Add/Mul between layers (residual adds, extra scaling); "
    "let BatchNorm and the activation quantizer absorb scales",
)


@dataclass(frozen=True)
class NodeIssue:
    """One node that cannot become RTL.

    Attributes:
        node: Node name in the graph.
        op_type: Its op type.
        reason: Why it is not RTL.
        fix: The RTL-friendly replacement.
    """

    node: str
    op_type: str
    reason: str
    fix: str

    def __str__(self) -> str:
        return f"{self.node} ({self.op_type}): {self.reason}; fix: {self.fix}"


def is_hw_node(node: NodeProto) -> bool:
    """True for a FINN HW layer (abstract, ``_hls`` or ``_rtl``)."""
    return node.domain.startswith(_HW_DOMAIN)


def find_unsupported_nodes(model: ModelWrapper, fpgapart: str) -> list[NodeIssue]:
    """Nodes that will not end up as RTL, judged right after the conversion to HW layers.

    Args:
        model: The model after ``step_convert_to_hw`` (before partitioning).
        fpgapart: Target part; it decides whether MVAU weights must be narrow.

    Returns:
        One issue per offending node, in graph order (empty when the model is fine).
    """
    nodes = list(model.graph.node)
    hw = {n.name for n in nodes if is_hw_node(n)}
    if not hw:
        return [
            NodeIssue(
                n.name,
                n.op_type,
                "no layer of the network became a FINN HW layer",
                "build the network from QuantConv2d/QuantLinear + BatchNorm + "
                "QuantReLU with a QuantIdentity input quantizer",
            )
            for n in nodes[:1]
        ]
    upstream_hw = _reaches_hw(model, hw, forward=False)
    downstream_hw = _reaches_hw(model, hw, forward=True)
    issues = []
    for node in nodes:
        if node.name in hw:
            issue = _hw_issue(model, node, fpgapart)
        elif node.name in upstream_hw and node.name in downstream_hw:
            issue = _issue(node, "it sits between HW layers and has no FINN HW layer")
        elif node.op_type not in HOST_OPS:
            issue = _issue(node, "it is not a FINN HW layer and not a simple host-side op")
        else:
            issue = None
        if issue is not None:
            issues.append(issue)
    return issues


def find_hls_nodes(model: ModelWrapper, fpgapart: str) -> list[NodeIssue]:
    """Nodes of a specialized dataflow model whose implementation is not ``_rtl``.

    Args:
        model: The dataflow partition after SpecializeLayers.
        fpgapart: Target part (for the MVAU diagnosis).
    """
    from qonnx.custom_op.registry import getCustomOp

    issues = []
    for node in model.graph.node:
        if node.op_type.endswith("_rtl"):
            support = SUPPORTED.get(node.op_type)
            if support is None:
                issues.append(_issue(node, unsupported_reason(node.op_type)))
            elif support.mem_modes:
                mode = getCustomOp(node).get_nodeattr("mem_mode")
                if mode not in support.mem_modes:
                    issues.append(
                        NodeIssue(
                            node.name,
                            node.op_type,
                            f"mem_mode {mode} is not simulated or synthesized",
                            f"use mem_mode {' or '.join(support.mem_modes)}",
                        )
                    )
            continue
        if node.op_type in ("MVAU_hls", "VVAU_hls"):
            reason, fix = mvau_hls_reason(model, node, fpgapart)
            issues.append(NodeIssue(node.name, node.op_type, reason, fix))
        else:
            issues.append(_issue(node, "it has no RTL implementation in finn-plus 1.6.1"))
    return issues


def mvau_hls_reason(model: ModelWrapper, node: NodeProto, fpgapart: str) -> tuple[str, str]:
    """Why finn-plus's SpecializeLayers cannot give this MVAU/VVAU an RTL implementation.

    Mirrors ``_mvu_rtl_possible`` in finn-plus 1.6.1 ``specialize_layers.py``.

    Returns:
        ``(reason, fix)``.
    """
    from finn.util.basic import get_dsp_block, get_dsp_datapath_limits
    from qonnx.custom_op.registry import getCustomOp

    inst = getCustomOp(node)
    if inst.get_nodeattr("binaryXnorMode") == 1:
        return REPLACEMENTS["XnorPopcountMatMul"]
    if inst.get_nodeattr("noActivation") == 0:
        return (
            "its activation is fused into the MVAU (no standalone Thresholding)",
            "keep an activation quantizer after every layer so thresholds stand alone",
        )
    wdt = inst.get_input_datatype(1)
    idt = inst.get_input_datatype(0)
    if not wdt.signed():
        return (f"weights are unsigned ({wdt.name})", "use signed weight quantizers")
    dsp = get_dsp_block(fpgapart)
    weights = model.get_initializer(node.input[1])
    wmin = wdt.min() if weights is None else weights.min()
    if dsp == "DSP48E1" and wmin == wdt.min():
        return (
            f"weights use the full {wdt.name} range; 7-series DSP48E1 needs narrow-range weights",
            "quantize weights with narrow_range=True (Brevitas's default)",
        )
    if idt.bitwidth() < 2 or wdt.bitwidth() < 2:
        return (
            f"{wdt.bitwidth()}-bit weights x {idt.bitwidth()}-bit inputs is below the RTL "
            "MVU's 2-bit minimum",
            "compile the layer with --impl lut or auto (codesign's LUT MVU takes 1-bit operands)",
        )
    max_act, max_w, max_acc = get_dsp_datapath_limits(dsp)
    return (
        f"{idt.name} inputs x {wdt.name} weights exceed the {dsp} datapath "
        f"(act < {max_act}, weight <= {max_w}, acc <= {max_acc} bits)",
        "use <= 8-bit weights and activations, or --impl lut",
    )


def raise_if_issues(issues: list[NodeIssue], where: str) -> None:
    """Raise one :class:`UnsupportedModelError` listing every issue (no-op when empty)."""
    if issues:
        lines = "; ".join(str(i) for i in issues)
        raise UnsupportedModelError(f"{len(issues)} node(s) cannot become RTL ({where}): {lines}")


def _issue(node: NodeProto, default_reason: str) -> NodeIssue:
    base = node.op_type.removesuffix("_hls").removesuffix("_rtl")
    if base in REPLACEMENTS:
        reason, fix = REPLACEMENTS[base]
    elif base.startswith("Elementwise") or base in ("Add", "Mul", "Sub", "Div"):
        reason, fix = _ELEMENTWISE
    else:
        reason, fix = default_reason, UNSUPPORTED_FIX
    return NodeIssue(node.name, node.op_type, reason, fix)


def _hw_issue(model: ModelWrapper, node: NodeProto, fpgapart: str) -> NodeIssue | None:
    base = node.op_type.removesuffix("_hls").removesuffix("_rtl")
    if base == "Pool":
        from qonnx.custom_op.registry import getCustomOp

        function = getCustomOp(node).get_nodeattr("Function")
        if function == "MaxPool":
            return None  # codesign's RTL max-pool (codesign.finn.pool_rtl)
        fix = REPLACEMENTS["AveragePool"][1]
        return NodeIssue(node.name, node.op_type, f"{_AVG} ({function})", fix)
    if base in REPLACEMENTS or base.startswith("Elementwise"):
        return _issue(node, "")
    if base in ("MVAU", "VVAU"):
        from finn.transformation.fpgadataflow.specialize_layers import (
            _mvu_rtl_possible,
            _vvu_rtl_possible,
        )
        from qonnx.custom_op.registry import getCustomOp

        # The same rules SpecializeLayers applies with preferred_impl_style="rtl".
        if base == "VVAU" and not _vvu_rtl_possible(node, fpgapart):
            return NodeIssue(
                node.name,
                node.op_type,
                "depthwise convolutions (VVAU) are RTL only on Versal (DSP58)",
                "use dense convolutions (groups=1)",
            )
        if base == "MVAU" and getCustomOp(node).get_nodeattr("resType") == "lut":
            from codesign.finn.lut_mvau import lut_unsupported_reason

            reason = lut_unsupported_reason(getCustomOp(node))
            if reason:
                return NodeIssue(
                    node.name,
                    node.op_type,
                    f"the LUT MVU cannot take it: {reason}",
                    "use <= 8-bit weights and activations with a standalone activation "
                    "quantizer, or --impl dsp",
                )
            return None
        if base == "MVAU" and not _mvu_rtl_possible(node, fpgapart, model):
            reason, fix = mvau_hls_reason(model, node, fpgapart)
            return NodeIssue(node.name, node.op_type, reason, fix)
    if rtl_op_for(node.op_type) not in SUPPORTED:
        return _issue(node, unsupported_reason(node.op_type))
    return None


def _reaches_hw(model: ModelWrapper, hw: set[str], *, forward: bool) -> set[str]:
    """Names of nodes that have a HW node strictly downstream (forward) or upstream."""
    succ: dict[str, list[str]] = {}
    for node in model.graph.node:
        nxt = (
            model.find_direct_successors(node) if forward else model.find_direct_predecessors(node)
        ) or []
        succ[node.name] = [n.name for n in nxt]
    reach: set[str] = set()
    for start in succ:
        stack, seen = list(succ[start]), set()
        while stack:
            cur = stack.pop()
            if cur in seen:
                continue
            seen.add(cur)
            if cur in hw:
                reach.add(start)
                break
            stack.extend(succ.get(cur, []))
    return reach
