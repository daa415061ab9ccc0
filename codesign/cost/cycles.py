"""FINN's analytic cycles per frame of each node kind, and the stream widths between nodes.

These are finn-plus 1.6.1's ``get_exp_cycles`` formulas for the RTL nodes codesign emits,
rewritten on :class:`~codesign.cost.protocol.LayerSpec` so that a design can be priced
without building its ONNX graph. They are exact (integers, FINN's truncation): the tests
compare them node by node with FINN's own ``exp_cycles_per_layer`` on compiled models.
Data-width converters and FIFOs have no analytic cycles in FINN (0).
"""

from __future__ import annotations

from codesign.cost.protocol import LayerKind, LayerSpec

__all__ = ["extra", "in_width", "layer_cycles", "out_width"]


def extra(spec: LayerSpec, key: str, default: float = 0) -> float:
    """One of ``spec.extra``'s kind-specific figures (``default`` when absent)."""
    for k, v in spec.extra:
        if k == key:
            return v
    return default


def layer_cycles(spec: LayerSpec) -> int:
    """Expected cycles per frame of one node, as FINN's ``get_exp_cycles`` computes them."""
    kind = spec.kind
    if kind is LayerKind.MVAU:
        return int((spec.mh / spec.pe) * (spec.mw / spec.simd) * spec.vectors)
    if kind is LayerKind.VVAU:
        k2 = int(extra(spec, "k", 1)) ** 2
        return int((spec.mh / spec.pe) * (k2 / spec.simd) * spec.vectors)
    if kind is LayerKind.THRESHOLDING:
        return int((spec.mh // spec.pe) * spec.vectors)
    if kind is LayerKind.FMPADDING:
        return int((spec.mh / spec.simd) * spec.vectors)
    if kind is LayerKind.SWG:
        return _swg_cycles(spec)
    return 0


def _swg_cycles(spec: LayerSpec) -> int:
    """ConvolutionInputGenerator_rtl (2D, dense, no dilation): default or parallel style."""
    ch = spec.mh
    ifm = int(extra(spec, "ifm"))
    ofm = int(extra(spec, "ofm"))
    k = int(extra(spec, "k"))
    stride = int(extra(spec, "stride", 1))
    cf = ch // spec.simd
    if extra(spec, "parallel") or k == 1:
        return ifm * ifm * cf + 2
    buffer_min = ((k - 1) * ifm + (k - 1) + 1) * cf
    write_block = ofm * k * k * cf
    read_block = stride * ifm * cf
    return int(buffer_min + ofm * max(write_block, read_block))


def in_width(spec: LayerSpec) -> int:
    """Bits per cycle on the node's input stream (folded)."""
    kind = spec.kind
    a = spec.act_in.bits
    if kind is LayerKind.MVAU:
        return spec.simd * a
    if kind is LayerKind.THRESHOLDING:
        return spec.pe * a
    if kind in (LayerKind.SWG, LayerKind.FMPADDING):
        return spec.simd * a
    if kind is LayerKind.VVAU:
        return spec.pe * spec.simd * a
    if kind is LayerKind.DWC:
        return int(extra(spec, "in_width"))
    return int(extra(spec, "width", a))


def out_width(spec: LayerSpec) -> int:
    """Bits per cycle on the node's output stream (folded)."""
    kind = spec.kind
    if kind in (LayerKind.MVAU, LayerKind.VVAU):
        return spec.pe * int(extra(spec, "acc", 32))
    if kind is LayerKind.THRESHOLDING:
        assert spec.act_out is not None
        return spec.pe * spec.act_out.bits
    if kind is LayerKind.SWG:
        k = int(extra(spec, "k"))
        window = k * k if extra(spec, "parallel") else 1
        return spec.simd * window * spec.act_in.bits
    if kind is LayerKind.FMPADDING:
        return spec.simd * spec.act_in.bits
    if kind is LayerKind.DWC:
        return int(extra(spec, "out_width"))
    return int(extra(spec, "width", spec.act_in.bits))
