"""The dataflow nodes that ``codesign compile`` makes of a family network, without compiling.

:func:`network_layers` turns a :class:`~codesign.models.arch.CnnArch` and its
:class:`~codesign.models.bits.BitConfig` into the list of
:class:`~codesign.cost.protocol.LayerSpec` the compile produces: the same nodes, in graph
order, with FINN's names, PE/SIMD and the data-width converters and depth-2 FIFOs
``insert_dwc_fifo`` adds. The folding is given (a FINN folding dict) or predicted for an
FPS target by :func:`predict_folding`, which replays finn-plus 1.6.1's ``SetFolding``
(with its two-pass relaxation) and codesign's ``AvoidFullSimdMvau`` guard on these specs.
:func:`fold_to_lut_budget` replays the compile's LUT-budget search with a cost model.

What is approximate: accumulator and threshold widths are the worst case of the bit-widths
(FINN minimizes them from the trained weights, usually to the same or 1-2 bits less).

Example:
    >>> from codesign.models.arch import QUICKSTART_ARCH
    >>> from codesign.models.bits import BitConfig
    >>> bits = BitConfig.uniform(QUICKSTART_ARCH.n_layers, 4, 4)
    >>> specs = network_layers(QUICKSTART_ARCH, bits, fps=10_000, clock_ns=10.0)
    >>> [s.name for s in specs if s.kind == "mvau"]
    ['MVAU_rtl_0', 'MVAU_rtl_1', 'MVAU_rtl_2', 'MVAU_rtl_3']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from codesign.cost.cycles import extra, in_width, layer_cycles, out_width
from codesign.cost.protocol import Impl, LayerKind, LayerSpec
from codesign.errors import ConfigError, InfeasibleError
from codesign.models.bits import Precision

if TYPE_CHECKING:
    from codesign.models.arch import CnnArch
    from codesign.models.bits import BitConfig
    from codesign.resources import Resources

__all__ = [
    "FLOAT_INPUT",
    "Folding",
    "accumulator_bits",
    "apply_folding",
    "avoid_full_simd",
    "expected_fifo_depths",
    "base_layers",
    "fold_pass",
    "fold_to_lut_budget",
    "folding_of",
    "insert_dwc_fifo",
    "network_layers",
    "predict_folding",
    "stream_words",
]

#: The input thresholding compares FINN's FLOAT32 input: 32-bit thresholds and stream.
FLOAT_INPUT = Precision(32, signed=True)
#: Node name -> {"PE": .., "SIMD": .., "parallel_window": ..} (FINN's folding config form).
Folding = Mapping[str, Mapping[str, int]]

_OP_NAMES = {
    LayerKind.MVAU: "MVAU_rtl",
    LayerKind.VVAU: "VVAU_rtl",
    LayerKind.THRESHOLDING: "Thresholding_rtl",
    LayerKind.SWG: "ConvolutionInputGenerator_rtl",
    LayerKind.FMPADDING: "FMPadding_rtl",
    LayerKind.DWC: "StreamingDataWidthConverter_rtl",
    LayerKind.FIFO: "StreamingFIFO_rtl",
}


def accumulator_bits(mw: int, weight: Precision, act: Precision) -> int:
    """Worst-case accumulator width of a dot product of length ``mw`` (narrow weights)."""
    wmax = 2 ** (weight.bits - 1) - 1 if weight.signed else 2**weight.bits - 1
    amax = 2 ** (act.bits - 1) if act.signed else 2**act.bits - 1
    bound = mw * max(1, wmax) * max(1, amax)
    return int(math.ceil(math.log2(bound + 1))) + 1


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def base_layers(
    arch: CnnArch,
    bits: BitConfig,
    impl: Sequence[Impl] | None = None,
    *,
    per_channel_thresholds: bool = True,
) -> list[LayerSpec]:
    """The compute nodes of ``arch`` (no DWCs or FIFOs), unfolded (PE = SIMD = 1).

    Args:
        arch: The network.
        bits: Its bit-widths (one entry per weight layer).
        impl: DSP or LUT multiplication per weight layer (default DSP everywhere).
        per_channel_thresholds: A trained network: its BatchNorm gives each channel of a
            conv's thresholding its own threshold set. False for a freshly initialized one
            (identity BatchNorm: one set shared by all channels, as in the calibration DoE).

    Raises:
        ConfigError: ``bits`` or ``impl`` has the wrong number of layers.
    """
    bits.validate(arch)
    impl = tuple(impl) if impl is not None else (Impl.DSP,) * arch.n_layers
    if len(impl) != arch.n_layers:
        raise ConfigError(f"impl has {len(impl)} entries for {arch.n_layers} weight layers")
    counters: dict[LayerKind, int] = {}

    def name(kind: LayerKind) -> str:
        index = counters.get(kind, 0)
        counters[kind] = index + 1
        return f"{_OP_NAMES[kind]}_{index}"

    size = arch.input_size
    channels = arch.in_channels
    act = Precision(bits.input_bits, signed=False)
    pixels = size * size
    specs = [
        LayerSpec(
            name=name(LayerKind.THRESHOLDING),
            kind=LayerKind.THRESHOLDING,
            mw=channels,
            mh=channels,
            vectors=pixels,
            weight=None,
            act_in=FLOAT_INPUT,
            act_out=act,
            extra=(("tbits", 32.0), ("fp", 1.0), ("trows", 1.0)),  # per-tensor input scale
        )
    ]
    for i, stage in enumerate(arch.stages):
        layer_bits = bits.layers[i]
        k, s, pad = stage.kernel, stage.stride, stage.padding
        out_size = (size + 2 * pad - k) // s + 1
        if pad > 0:
            padded = size + 2 * pad
            specs.append(
                LayerSpec(
                    name=name(LayerKind.FMPADDING),
                    kind=LayerKind.FMPADDING,
                    mw=channels,
                    mh=channels,
                    vectors=padded * padded,
                    weight=None,
                    act_in=act,
                    act_out=act,
                    extra=(("idim", float(size)), ("odim", float(padded))),
                )
            )
            size = padded
        if k > 1 or s > 1:
            specs.append(
                LayerSpec(
                    name=name(LayerKind.SWG),
                    kind=LayerKind.SWG,
                    mw=k * k * channels,
                    mh=channels,
                    vectors=out_size * out_size,
                    weight=None,
                    act_in=act,
                    act_out=act,
                    extra=(
                        ("ifm", float(size)),
                        ("ofm", float(out_size)),
                        ("k", float(k)),
                        ("stride", float(s)),
                        ("parallel", 0.0),
                    ),
                )
            )
        weight = layer_bits.weight_precision
        mw = k * k * channels
        acc = accumulator_bits(mw, weight, act)
        specs.append(
            LayerSpec(
                name=name(LayerKind.MVAU),
                kind=LayerKind.MVAU,
                mw=mw,
                mh=stage.channels,
                vectors=out_size * out_size,
                weight=weight,
                act_in=act,
                act_out=None,
                impl=impl[i],
                extra=(("acc", float(acc)),),
            )
        )
        out_act = Precision(int(layer_bits.act), signed=False)  # type: ignore[arg-type]
        specs.append(
            LayerSpec(
                name=name(LayerKind.THRESHOLDING),
                kind=LayerKind.THRESHOLDING,
                mw=stage.channels,
                mh=stage.channels,
                vectors=out_size * out_size,
                weight=None,
                act_in=Precision(acc, signed=True),
                act_out=out_act,
                extra=(
                    ("tbits", float(acc)),
                    ("trows", float(stage.channels if per_channel_thresholds else 1)),
                ),
            )
        )
        act, channels, size = out_act, stage.channels, out_size
    weight = bits.layers[-1].weight_precision
    mw = channels * size * size
    acc = accumulator_bits(mw, weight, act)
    specs.append(
        LayerSpec(
            name=name(LayerKind.MVAU),
            kind=LayerKind.MVAU,
            mw=mw,
            mh=arch.num_classes,
            vectors=1,
            weight=weight,
            act_in=act,
            act_out=None,
            impl=impl[-1],
            extra=(("acc", float(acc)),),
        )
    )
    return specs


def _set_extra(spec: LayerSpec, key: str, value: float) -> LayerSpec:
    items = tuple((k, v) for k, v in spec.extra if k != key) + ((key, float(value)),)
    return replace(spec, extra=items)


def _optimize(spec: LayerSpec, attr: str, max_val: int, target: int) -> tuple[LayerSpec, bool]:
    """SetFolding.optimize_attribute_val: the first divisor meeting ``target``, else the max."""
    for val in _divisors(max_val):
        spec = replace(spec, **{attr: val})
        if layer_cycles(spec) <= target:
            return spec, True
    return spec, False


def _fold_pass(specs: list[LayerSpec], target: int, wwidth_max: int) -> list[LayerSpec]:
    out = []
    for spec in specs:
        kind = spec.kind
        if kind is LayerKind.MVAU:
            assert spec.weight is not None
            spec = replace(spec, pe=1, simd=1)
            for simd in _divisors(spec.mw):
                prev = spec.simd
                spec = replace(spec, simd=simd)
                if layer_cycles(spec) <= target:
                    break
                if spec.weight.bits * simd > wwidth_max:  # type: ignore[union-attr]
                    spec = replace(spec, simd=prev)
                    break
            for pe in _divisors(spec.mh):
                spec = replace(spec, pe=pe)
                if layer_cycles(spec) <= target:
                    break
        elif kind is LayerKind.THRESHOLDING:
            spec, _ = _optimize(spec, "pe", spec.mh, target)
        elif kind is LayerKind.FMPADDING:
            spec, _ = _optimize(spec, "simd", spec.mh, target)
        elif kind is LayerKind.SWG:
            spec = _set_extra(spec, "parallel", 0)
            spec, met = _optimize(spec, "simd", spec.mh, target)
            if not met and spec.simd == spec.mh:
                spec = _set_extra(spec, "parallel", 1)
        out.append(spec)
    return out


def _largest_proper_divisor(n: int) -> int:
    for d in range(n // 2, 0, -1):
        if n % d == 0:
            return d
    return 1


def _avoid_full_simd(specs: list[LayerSpec]) -> list[LayerSpec]:
    """codesign.finn.transforms.AvoidFullSimdMvau on specs."""
    out = []
    for spec in specs:
        if spec.kind is LayerKind.MVAU and spec.simd == spec.mw and spec.mw > 1:
            cycles = layer_cycles(spec)
            spec = replace(spec, simd=_largest_proper_divisor(spec.mw))
            for cand in (d for d in range(spec.pe, spec.mh + 1) if spec.mh % d == 0):
                spec = replace(spec, pe=cand)
                if layer_cycles(spec) <= cycles:
                    break
        out.append(spec)
    return out


def fold_pass(
    specs: Sequence[LayerSpec], target_cycles: int, mvau_wwidth_max: int = 36
) -> list[LayerSpec]:
    """One SetFolding pass at ``target_cycles`` (no relaxation, no full-SIMD guard)."""
    return _fold_pass(list(specs), max(1, int(target_cycles)), mvau_wwidth_max)


def avoid_full_simd(specs: Sequence[LayerSpec]) -> list[LayerSpec]:
    """The MVAU_rtl guard of codesign (SIMD < MW) on folded specs."""
    return _avoid_full_simd(list(specs))


def predict_folding(
    specs: Sequence[LayerSpec],
    target_cycles: int,
    mvau_wwidth_max: int = 36,
    *,
    relax: bool = True,
) -> list[LayerSpec]:
    """The folding ``codesign.finn.folding.fold`` chooses for ``target_cycles`` per frame.

    finn-plus's SetFolding (two-pass relaxation unless ``relax`` is false: when a node
    cannot reach the target, fold again to the bottleneck it reached), then the MVAU_rtl
    full-SIMD guard.
    """
    target = max(1, int(target_cycles))
    folded = _fold_pass(list(specs), target, mvau_wwidth_max)
    worst = max(layer_cycles(s) for s in folded)
    if relax and worst > target:
        folded = _fold_pass(list(specs), worst, mvau_wwidth_max)
    return _avoid_full_simd(folded)


def folding_of(specs: Sequence[LayerSpec]) -> dict[str, dict[str, int]]:
    """The folding of ``specs`` in FINN's folding-config form (nodes with PE/SIMD only)."""
    out: dict[str, dict[str, int]] = {}
    for s in specs:
        if s.kind in (LayerKind.MVAU, LayerKind.VVAU):
            out[s.name] = {"PE": s.pe, "SIMD": s.simd}
        elif s.kind is LayerKind.THRESHOLDING:
            out[s.name] = {"PE": s.pe}
        elif s.kind is LayerKind.FMPADDING:
            out[s.name] = {"SIMD": s.simd}
        elif s.kind is LayerKind.SWG:
            out[s.name] = {"SIMD": s.simd, "parallel_window": int(extra(s, "parallel"))}
    return out


def apply_folding(specs: Sequence[LayerSpec], folding: Folding) -> list[LayerSpec]:
    """Set PE/SIMD (and the SWG's parallel_window) from a FINN folding dict.

    Raises:
        ConfigError: A value does not divide the node's dimension.
    """
    out = []
    for spec in specs:
        cfg = folding.get(spec.name, {})
        if "PE" in cfg:
            spec = replace(spec, pe=int(cfg["PE"]))
        if "SIMD" in cfg:
            spec = replace(spec, simd=int(cfg["SIMD"]))
        if "parallel_window" in cfg:
            spec = _set_extra(spec, "parallel", int(cfg["parallel_window"]))
        if spec.mh % spec.pe or (spec.kind is LayerKind.MVAU and spec.mw % spec.simd):
            raise ConfigError(
                f"folding of {spec.name}: PE {spec.pe} / SIMD {spec.simd} "
                f"do not divide MH {spec.mh} / MW {spec.mw}"
            )
        out.append(spec)
    return out


def insert_dwc_fifo(specs: Sequence[LayerSpec], fifo_depth: int = 2) -> list[LayerSpec]:
    """Add the width converters and shallow FIFOs of the compile's ``insert_dwc_fifo`` step.

    A converter goes between two nodes whose stream widths differ; a FIFO of
    ``fifo_depth`` goes before the first node, between every two nodes and after the last.
    """
    out: list[LayerSpec] = []
    n_dwc = n_fifo = 0

    def fifo(width: int, prec: Precision, words: int) -> LayerSpec:
        nonlocal n_fifo
        spec = LayerSpec(
            name=f"StreamingFIFO_rtl_{n_fifo}",
            kind=LayerKind.FIFO,
            mw=width,
            mh=width,
            vectors=words,
            weight=None,
            act_in=prec,
            act_out=prec,
            extra=(("width", float(width)), ("depth", float(fifo_depth))),
        )
        n_fifo += 1
        return spec

    prev: LayerSpec | None = None
    for spec in specs:
        if prev is None:
            out.append(fifo(in_width(spec), spec.act_in, 0))
        else:
            w_out, w_in = out_width(prev), in_width(spec)
            if w_out != w_in:
                out.append(fifo(w_out, spec.act_in, 0))
                out.append(
                    LayerSpec(
                        name=f"StreamingDataWidthConverter_rtl_{n_dwc}",
                        kind=LayerKind.DWC,
                        mw=w_out,
                        mh=w_in,
                        vectors=0,
                        weight=None,
                        act_in=spec.act_in,
                        act_out=spec.act_in,
                        extra=(("in_width", float(w_out)), ("out_width", float(w_in))),
                    )
                )
                n_dwc += 1
                out.append(fifo(w_in, spec.act_in, 0))
            else:
                out.append(fifo(w_in, spec.act_in, 0))
        out.append(spec)
        prev = spec
    if prev is not None:
        acc = int(extra(prev, "acc", 32)) if prev.act_out is None else prev.act_out.bits
        out.append(fifo(out_width(prev), Precision(acc, signed=prev.act_out is None), 0))
    return out


#: Expected FIFO depth after FINN's simulation-based sizing, as a share of the words per
#: frame on the stream, by the consumer's kind: the medians over the FIFOs of 8 sized
#: designs (quickstart, sweep, #15's search winners) where the producer side is not faster
#: than the consumer (FMPadding -> SWG 0.157; DWC -> MVAU 0.168, Thresholding -> MVAU 0.22).
#: An SWG takes its input in bursts (a row while its window buffer drains), an MVAU that
#: replays its input holds the producer back; other consumers keep their FIFOs shallow.
FIFO_SIZED_SHARE: dict[LayerKind, float] = {LayerKind.SWG: 0.16, LayerKind.MVAU: 0.17}


def stream_words(spec: LayerSpec) -> int:
    """Words per frame on the node's input stream (folded: one word per transfer)."""
    kind = spec.kind
    if kind is LayerKind.MVAU:
        return spec.vectors * (spec.mw // spec.simd)
    if kind is LayerKind.THRESHOLDING:
        return spec.vectors * (spec.mh // spec.pe)
    if kind is LayerKind.FMPADDING:
        return int(extra(spec, "idim")) ** 2 * (spec.mh // spec.simd)
    if kind is LayerKind.SWG:
        return int(extra(spec, "ifm")) ** 2 * (spec.mh // spec.simd)
    return layer_cycles(spec)


def expected_fifo_depths(specs: Sequence[LayerSpec], upstream_cycles: int = 0) -> list[LayerSpec]:
    """``specs`` with each FIFO at the depth FINN's FIFO sizing is expected to give it.

    A FIFO into a node that is slower than everything upstream fills at the rate
    difference: ``words x (1 - upstream / consumer cycles)`` (the input stream delivers one
    word per cycle); else it holds :data:`FIFO_SIZED_SHARE` of the frame's words for an SWG
    or MVAU consumer, and stays at depth 2 for the rest (and before converters, whose
    FIFO sizing keeps shallow). An estimate for pricing designs before they are compiled
    (measured: the search winners' FIFOs, see docs/cost.md); compiled designs are priced
    from their ``sized.onnx``. ``upstream_cycles``: the slowest node before ``specs``.
    """
    out: list[LayerSpec] = []
    slowest = upstream_cycles
    for i, spec in enumerate(specs):
        if spec.kind is not LayerKind.FIFO:
            slowest = max(slowest, layer_cycles(spec))
            out.append(spec)
            continue
        consumer = specs[i + 1] if i + 1 < len(specs) else None
        if consumer is None or consumer.kind in (LayerKind.DWC, LayerKind.FIFO):
            out.append(spec)
            continue
        words = stream_words(consumer)
        cycles = layer_cycles(consumer)
        producer = slowest or words
        share = max(
            1.0 - producer / cycles if cycles else 0.0,
            FIFO_SIZED_SHARE.get(consumer.kind, 0.0),
        )
        depth = max(int(extra(spec, "depth", 2)), round(words * share))
        out.append(_set_extra(spec, "depth", depth))
    return out


def network_layers(
    arch: CnnArch,
    bits: BitConfig,
    *,
    folding: Folding | None = None,
    fps: float | None = None,
    clock_ns: float = 10.0,
    target_cycles: int | None = None,
    impl: Sequence[Impl] | None = None,
    mvau_wwidth_max: int = 36,
    dwc_fifo: bool = True,
    per_channel_thresholds: bool = True,
    fifo_sizing: bool = False,
) -> list[LayerSpec]:
    """The nodes ``codesign compile`` makes of ``arch`` at ``bits``, folded.

    Exactly one of ``folding`` (a FINN folding dict by node name), ``fps`` (with
    ``clock_ns``) or ``target_cycles`` chooses the folding. ``per_channel_thresholds``: see
    :func:`base_layers` (True, the default, prices a trained network). ``fifo_sizing``:
    the FIFOs at their expected sized depths (:func:`expected_fifo_depths`; the compile's
    FIFO sizing step) instead of the unsized depth 2.

    Raises:
        ConfigError: None or several of folding/fps/target_cycles, or a bad folding.
    """
    given = [x is not None for x in (folding, fps, target_cycles)]
    if sum(given) != 1:
        raise ConfigError("give exactly one of folding, fps or target_cycles")
    specs = base_layers(arch, bits, impl, per_channel_thresholds=per_channel_thresholds)
    if folding is not None:
        specs = apply_folding(specs, folding)
    else:
        if target_cycles is None:
            assert fps is not None
            if fps <= 0:
                raise ConfigError(f"fps must be > 0, got {fps:g}")
            target_cycles = math.floor(1e9 / clock_ns / fps)
        if target_cycles < 1:
            raise InfeasibleError(f"{fps:g} FPS is more than one frame per clock cycle")
        specs = predict_folding(specs, target_cycles, mvau_wwidth_max)
    if not dwc_fifo:
        return specs
    specs = insert_dwc_fifo(specs)
    return expected_fifo_depths(specs) if fifo_sizing else specs


def fold_to_lut_budget(
    specs: Sequence[LayerSpec],
    lut_budget: float,
    price: Callable[[Sequence[LayerSpec]], Resources],
    *,
    capacity: Resources | None = None,
    mvau_wwidth_max: int = 36,
    bisect_steps: int = 24,
) -> list[LayerSpec]:
    """The fastest folding whose price fits ``lut_budget`` (and ``capacity``), by bisection.

    The same search as ``codesign.finn.folding.fold_to_lut_budget``, with ``price`` (a cost
    model's total resources of the folded compute nodes) in place of FINN's estimate.

    Raises:
        InfeasibleError: Even the fully folded design does not fit.
    """

    def folded(cycles: int) -> list[LayerSpec]:
        return predict_folding(specs, cycles, mvau_wwidth_max)

    def fits(cycles: int) -> bool:
        res = price(folded(cycles))
        return res.lut <= lut_budget and (capacity is None or res.fits(capacity))

    slowest = max(layer_cycles(s) for s in folded(10**12))
    if not fits(slowest):
        raise InfeasibleError(
            f"even fully folded the design needs {price(folded(slowest)).lut:.0f} LUT, "
            f"over the budget of {lut_budget:g}"
        )
    fastest = max(layer_cycles(s) for s in folded(1))
    if fits(fastest):
        return folded(fastest)
    lo, hi = fastest, slowest
    for _ in range(bisect_steps):
        if hi - lo <= 1:
            break
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid
    return folded(hi)
