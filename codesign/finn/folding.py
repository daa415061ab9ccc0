"""Folding (PE/SIMD) to a throughput target or a LUT budget, with feasibility checks.

What a folding costs comes from a :data:`ResourceEstimator` passed in: FINN's analytic
estimate (:func:`finn_estimate`) by default, or a cost model through
:func:`cost_model_estimator` (FINN counts an RTL MVAU as 0 LUTs, so a LUT budget with FINN's
estimate bounds only the other layers).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from finn.analysis.fpgadataflow.exp_cycles_per_layer import exp_cycles_per_layer
from finn.transformation.fpgadataflow.set_folding import SetFolding
from finn.transformation.qonnx.give_unique_node_names_recursive import (
    GiveUniqueNodeNamesRecursive,
)
from qonnx.core.modelwrapper import ModelWrapper

from codesign.errors import InfeasibleError
from codesign.finn.estimate_fixes import res_estimation
from codesign.finn.transforms import AvoidFullSimdMvau
from codesign.resources import Resources

if TYPE_CHECKING:
    from codesign.cost.protocol import CostModel, LayerSpec

log = logging.getLogger(__name__)

ResourceEstimator = Callable[[ModelWrapper, str], Resources]
"""``estimate(model, part) -> Resources``: the resources of a folded dataflow model."""

_BISECT_STEPS = 24  # bounds the budget search: enough to pin the cycles to < 1e-7 relative


@dataclass(frozen=True)
class FoldTarget:
    """Where a folding search runs.

    Attributes:
        part: FPGA part (for FINN's resource estimates).
        clock_ns: Clock period in ns.
        capacity: Board capacity that the estimate must fit.
        mvau_wwidth_max: SetFolding's cap on weight bits per PE and cycle.
    """

    part: str
    clock_ns: float
    capacity: Resources
    mvau_wwidth_max: int = 36

    @property
    def f_clk(self) -> float:
        """Clock frequency in Hz."""
        return 1e9 / self.clock_ns


def fold(model: ModelWrapper, target_cycles: int, mvau_wwidth_max: int = 36) -> ModelWrapper:
    """SetFolding to ``target_cycles`` per frame, then the MVAU_rtl SIMD guard.

    Returns a new model; ``model`` is left untouched.
    """
    model = model.transform(
        SetFolding(
            max(1, int(target_cycles)), mvau_wwidth_max=mvau_wwidth_max, two_pass_relaxation=True
        )
    )
    model = model.transform(AvoidFullSimdMvau())
    return model.transform(GiveUniqueNodeNamesRecursive())


def bottleneck(model: ModelWrapper) -> tuple[str, int]:
    """The slowest node and its expected cycles per frame."""
    cycles = model.analysis(exp_cycles_per_layer)
    name = max(cycles, key=lambda k: cycles[k])
    return name, int(cycles[name])


def finn_estimate(model: ModelWrapper, part: str) -> Resources:
    """Sum of FINN's per-node estimates (RTL MVAU/VVAU LUTs count as 0 in FINN).

    The default :data:`ResourceEstimator`.
    """
    total = Resources()
    for res in model.analysis(partial(res_estimation, fpgapart=part)).values():
        total = total + to_resources(res)
    return total


total_resources = finn_estimate  # the name the estimates table uses


def cost_model_estimator(
    cost_model: CostModel, layer_specs: Callable[[ModelWrapper], Sequence[LayerSpec]]
) -> ResourceEstimator:
    """A :data:`ResourceEstimator` that prices a folded model with a cost model.

    Args:
        cost_model: Any :class:`~codesign.cost.protocol.CostModel`.
        layer_specs: Turns a folded dataflow model into the cost model's layer specs
            (shapes, precisions, PE/SIMD, implementation per node).
    """

    def estimate(model: ModelWrapper, part: str) -> Resources:  # noqa: ARG001 (model-specific)
        return cost_model.design_cost(layer_specs(model)).resources

    return estimate


def to_resources(res: dict[str, float]) -> Resources:
    """Convert one FINN ``node_res_estimation`` dict to :class:`Resources`."""
    return Resources(
        lut=float(res.get("LUT", 0)),
        bram18=float(res.get("BRAM_18K", 0)),
        uram=float(res.get("URAM", 0)),
        dsp=float(res.get("DSP", 0)),
    )


def fold_to_fps(
    model: ModelWrapper,
    fps: float,
    target: FoldTarget,
    estimate: ResourceEstimator = finn_estimate,
) -> ModelWrapper:
    """Fold every layer to ``f_clk / fps`` cycles per frame.

    ``estimate`` prices the folded design against the board capacity.

    Raises:
        InfeasibleError: The bottleneck layer needs more cycles than that even at maximum
            folding, or the folded design's FINN estimate exceeds the board capacity; the
            message gives the best achievable FPS.
    """
    target_cycles = math.floor(target.f_clk / fps)
    if target_cycles < 1:
        raise InfeasibleError(
            f"{fps:g} FPS is more than one frame per clock cycle at {target.f_clk / 1e6:g} MHz"
        )
    folded = fold(model, target_cycles, target.mvau_wwidth_max)
    name, cycles = bottleneck(folded)
    if cycles > target_cycles:
        best = fold(model, 1, target.mvau_wwidth_max)
        best_name, best_cycles = bottleneck(best)
        op = best.get_node_from_name(best_name).op_type
        raise InfeasibleError(
            f"{fps:g} FPS needs <= {target_cycles} cycles per frame at "
            f"{target.f_clk / 1e6:g} MHz, but the bottleneck {best_name} ({op}) needs "
            f"{best_cycles} cycles at maximum folding (mvau_wwidth_max="
            f"{target.mvau_wwidth_max}): best achievable is {target.f_clk / best_cycles:.1f} FPS"
        )
    used = estimate(folded, target.part)
    if not used.fits(target.capacity):
        best_fps = _best_fitting_fps(model, target, lambda r: r.fits(target.capacity), estimate)
        raise InfeasibleError(
            f"{fps:g} FPS needs {_describe(used)} by {_source(estimate)}, over the capacity of "
            f"{target.part} ({_describe(target.capacity)}); "
            + (
                f"best achievable that fits is {best_fps:.1f} FPS"
                if best_fps
                else "the design does not fit even fully folded"
            )
        )
    log.info(
        "folded to %d cycles/frame target: bottleneck %s at %d cycles (%.1f FPS)",
        target_cycles,
        name,
        cycles,
        target.f_clk / cycles,
    )
    return folded


def fold_to_lut_budget(
    model: ModelWrapper,
    lut_budget: int,
    target: FoldTarget,
    estimate: ResourceEstimator = finn_estimate,
) -> ModelWrapper:
    """The fastest folding whose estimate fits ``lut_budget`` LUTs and the board.

    With the default :func:`finn_estimate`, RTL MVAU/VVAU LUTs count as 0, so for an
    all-RTL design the budget bounds the other layers (thresholds, sliding windows, FIFOs)
    only; pass a calibrated estimator (:func:`cost_model_estimator`) to bound them all.

    Raises:
        InfeasibleError: Even the fully folded design exceeds the budget or the board.
    """

    def ok(res: Resources) -> bool:
        return res.lut <= lut_budget and res.fits(target.capacity)

    fps = _best_fitting_fps(model, target, ok, estimate)
    if fps is None:
        used = estimate(fold(model, 10**12, target.mvau_wwidth_max), target.part)
        raise InfeasibleError(
            f"even fully folded the design needs {_describe(used)} by "
            f"{_source(estimate)}: over the LUT budget {lut_budget} or the capacity of "
            f"{target.part} ({_describe(target.capacity)})"
        )
    return fold(model, math.floor(target.f_clk / fps), target.mvau_wwidth_max)


def _best_fitting_fps(
    model: ModelWrapper,
    target: FoldTarget,
    ok: Callable[[Resources], bool],
    estimate: ResourceEstimator,
) -> float | None:
    """Highest FPS whose folding satisfies ``ok``, by bisection on the cycle target."""

    def fits(cycles: int) -> bool:
        return ok(estimate(fold(model, cycles, target.mvau_wwidth_max), target.part))

    _, slowest = bottleneck(fold(model, 10**12, target.mvau_wwidth_max))  # fully folded
    if not fits(slowest):
        return None
    _, fastest = bottleneck(fold(model, 1, target.mvau_wwidth_max))
    if fits(fastest):
        return target.f_clk / fastest
    lo, hi = fastest, slowest  # fits(lo) is False, fits(hi) is True
    for _ in range(_BISECT_STEPS):
        if hi - lo <= 1:
            break
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid
    _, achieved = bottleneck(fold(model, hi, target.mvau_wwidth_max))
    return target.f_clk / achieved


def _source(estimate: ResourceEstimator) -> str:
    return "FINN's estimate" if estimate is finn_estimate else "the injected estimate"


def _describe(res: Resources) -> str:
    return f"LUT {res.lut:.0f}, BRAM18 {res.bram18:.0f}, URAM {res.uram:.0f}, DSP {res.dsp:.0f}"
