"""A small protocol-conforming cost model and spec function for the search tests.

Not a real cost model: LUTs grow with PE x SIMD x weight bits x act bits, cycles are the
folded matrix size times the output pixels. Enough to make budgets bind the way real ones do.
"""

from __future__ import annotations

from collections.abc import Sequence

from codesign.cost.protocol import DesignCost, Impl, LayerCost, LayerKind, LayerSpec
from codesign.models.arch import CnnArch
from codesign.models.bits import BitConfig, Precision
from codesign.resources import Resources


class ToyCostModel:
    """Implements :class:`codesign.cost.protocol.CostModel`."""

    version = "toy-1"

    def __init__(self) -> None:
        self.calls = 0

    def layer_cost(self, layer: LayerSpec) -> LayerCost:
        self.calls += 1
        w = layer.weight.bits if layer.weight else 1
        lut = layer.pe * layer.simd * w * layer.act_in.bits * 2 + 50
        cycles = (layer.mw // layer.simd) * (layer.mh // layer.pe) * layer.vectors
        return LayerCost(resources=Resources(lut=lut, ff=lut), cycles=cycles)

    def design_cost(self, layers: Sequence[LayerSpec]) -> DesignCost:
        costs = [self.layer_cost(s) for s in layers]
        total = Resources()
        for c in costs:
            total = total + c.resources
        return DesignCost(resources=total, cycles=max(c.cycles for c in costs), layers=tuple(costs))


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def toy_specs(
    arch: CnnArch, bits: BitConfig, impls: Sequence[Impl], fps: float, clock_mhz: float
) -> list[LayerSpec]:
    """One MVAU per layer, folded (SIMD first, then PE) to reach ``fps`` where it can."""
    target = clock_mhz * 1e6 / fps
    specs = []
    cin, act_in = arch.in_channels, bits.input_bits
    sizes = arch.feature_sizes()
    for i, stage in enumerate(arch.stages):
        mw, mh, vec = stage.kernel**2 * cin, stage.channels, sizes[i] ** 2
        specs.append(
            _fold(f"conv{i}", mw, mh, vec, bits.layers[i].weight, act_in, impls[i], target)
        )
        cin, act_in = stage.channels, bits.layers[i].act
    specs.append(
        _fold(
            "fc",
            arch.classifier_in_features,
            arch.num_classes,
            1,
            bits.layers[-1].weight,
            act_in,
            impls[-1],
            target,
        )
    )
    return specs


def _fold(name, mw, mh, vec, w, a, impl, target) -> LayerSpec:  # noqa: ANN001
    simd, pe = 1, 1
    for simd in _divisors(mw):
        if (mw // simd) * mh * vec <= target:
            break
    if (mw // simd) * (mh // pe) * vec > target:
        for pe in _divisors(mh):
            if (mw // simd) * (mh // pe) * vec <= target:
                break
    return LayerSpec(
        name=name,
        kind=LayerKind.MVAU,
        mw=mw,
        mh=mh,
        vectors=vec,
        weight=Precision(w, True),
        act_in=Precision(a, False),
        act_out=None,
        pe=pe,
        simd=simd,
        impl=impl,
    )
