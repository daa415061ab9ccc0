"""The searches APQ is compared with, on the same space, predictors and constraint.

* :func:`joint_search`: APQ: one evolution over architecture, pruning and bits, scored by
  the quantization-aware predictor.
* :func:`sequential_search`: three stages, each searching only its own axes with the
  others frozen: (1) depth and kernel at full width and the highest bits, scored by the fp32
  predictor; (2) kept channels (pruning), still fp32-scored; (3) per-layer bits (and impl),
  scored by the quantization-aware predictor. A stage's constraint is the budget *as it can
  still be reached*: stage 1 and 2 check it with the axes of later stages at their cheapest
  choice, so the next stage can always fit. Each stage gets a third of the joint search's
  generations, so the three together score as many candidates as the joint search.
* :func:`random_search`: uniform feasible samples, as many as the joint search scored; the
  best by the quantization-aware predictor.
* :func:`uniform_search`: the joint evolution with every layer frozen at the same bits *b*
  (W2A2, W4A4, W8A8).

All take the same injected ``score`` / ``feasible`` callables and ``numpy`` generator.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from codesign.errors import InfeasibleError
from codesign.search.evolution import (
    EvolutionConfig,
    EvolutionResult,
    EvolutionSearch,
    sample_feasible,
)
from codesign.search.space import SearchSpace

log = logging.getLogger(__name__)

__all__ = [
    "SearchOutcome",
    "joint_search",
    "random_search",
    "sequential_search",
    "uniform_search",
]

VecFn = Callable[[np.ndarray], np.ndarray]
ProgressFn = Callable[[int, int, float], None]

_BITS = ("weight_bits", "act_bits", "impls")


@dataclass
class SearchOutcome:
    """A search's winner: its vector, predicted score, candidates scored and wall time."""

    method: str
    vector: np.ndarray
    predicted: float
    scored: int
    seconds: float
    top: np.ndarray | None = None


def _from_result(method: str, res: EvolutionResult, t0: float) -> SearchOutcome:
    return SearchOutcome(
        method, res.best_vector, res.best_score, res.scored, time.perf_counter() - t0, res.top
    )


def joint_search(
    space: SearchSpace,
    score_q: VecFn,
    feasible: VecFn,
    rng: np.random.Generator,
    cfg: EvolutionConfig,
    progress: ProgressFn | None = None,
) -> SearchOutcome:
    """APQ: evolve architecture, pruning and bits together."""
    t0 = time.perf_counter()
    res = EvolutionSearch(space, score_q, feasible, rng, cfg).run(progress)
    return _from_result("joint", res, t0)


def _set(space: SearchSpace, vectors: np.ndarray, axes: dict[str, str]) -> np.ndarray:
    """Copy of ``vectors`` with each named axis at its ``"min"`` or ``"max"`` choice."""
    out = np.array(vectors, dtype=np.int64, copy=True)
    sl, card = space.axis_slices(), space.cardinalities
    for axis, where in axes.items():
        s = sl[axis]
        out[..., s] = 0 if where == "min" else card[s] - 1
    return out


def sequential_search(
    space: SearchSpace,
    score_fp32: VecFn,
    score_q: VecFn,
    feasible: VecFn,
    rng: np.random.Generator,
    cfg: EvolutionConfig,
    progress: ProgressFn | None = None,
) -> SearchOutcome:
    """Architecture (fp32), then pruning (fp32), then bits (quantized), each on its own.

    Raises:
        InfeasibleError: A stage finds no candidate that can still meet the budget.
    """
    t0 = time.perf_counter()
    stage_cfg = replace(cfg, iterations=max(1, cfg.iterations // 3))
    sl = space.axis_slices()
    free = np.full(space.vector_length, -1, dtype=np.int64)
    scored = 0

    # Stage 1: depth and kernel at full width and the highest bits.
    frozen = _set(space, free, {"widths": "max", **dict.fromkeys(_BITS, "max")})
    frozen[sl["depths"]] = -1
    frozen[sl["kernels"]] = -1
    reach1 = lambda v: feasible(_set(space, v, {"widths": "min", **dict.fromkeys(_BITS, "min")}))  # noqa: E731
    res = EvolutionSearch(space, score_fp32, reach1, rng, stage_cfg, frozen).run(progress)
    scored += res.scored
    arch = res.best_vector

    # Stage 2: pruning: kept channels, with the architecture fixed, still fp32.
    frozen = arch.copy()
    frozen[sl["widths"]] = -1
    reach2 = lambda v: feasible(_set(space, v, dict.fromkeys(_BITS, "min")))  # noqa: E731
    start = _set(space, arch, {"widths": "min"})[None]  # stage 1 guarantees it can fit
    res = EvolutionSearch(space, score_fp32, reach2, rng, stage_cfg, frozen).run(progress, start)
    scored += res.scored
    pruned = res.best_vector

    # Stage 3: per-layer bits and impls, with the pruned architecture fixed.
    frozen = pruned.copy()
    for axis in _BITS:
        frozen[sl[axis]] = -1
    start = _set(space, pruned, dict.fromkeys(_BITS, "min"))[None]  # stage 2 guarantees it
    res = EvolutionSearch(space, score_q, feasible, rng, stage_cfg, frozen).run(progress, start)
    scored += res.scored
    return SearchOutcome(
        "sequential", res.best_vector, res.best_score, scored, time.perf_counter() - t0, res.top
    )


def random_search(
    space: SearchSpace,
    score_q: VecFn,
    feasible: VecFn,
    rng: np.random.Generator,
    n: int,
    max_tries: int,
) -> SearchOutcome:
    """The best of ``n`` uniform feasible samples by the quantization-aware predictor.

    Raises:
        InfeasibleError: No feasible sample within ``max_tries`` batches.
    """
    t0 = time.perf_counter()
    vecs, _ = sample_feasible(space, feasible, rng, n, max_tries)
    if len(vecs) == 0:
        raise InfeasibleError("random search: no candidate meets the budget")
    scores = score_q(vecs)
    order = np.argsort(-scores, kind="stable")
    return SearchOutcome(
        "random",
        vecs[order[0]],
        float(scores[order[0]]),
        len(vecs),
        time.perf_counter() - t0,
        vecs[order],
    )


def uniform_search(
    space: SearchSpace,
    score_q: VecFn,
    feasible: VecFn,
    rng: np.random.Generator,
    cfg: EvolutionConfig,
    bits: int,
) -> SearchOutcome | None:
    """The best subnet with every layer at ``bits`` (weights and activations); None if none fits.

    Raises:
        InfeasibleError: ``bits`` is not a choice of the space.
    """
    if bits not in space.weight_bits or bits not in space.act_bits:
        raise InfeasibleError(f"uniform W{bits}A{bits} is not in the search space's bits")
    t0 = time.perf_counter()
    sl = space.axis_slices()
    frozen = np.full(space.vector_length, -1, dtype=np.int64)
    frozen[sl["weight_bits"]] = space.weight_bits.index(bits)
    frozen[sl["act_bits"]] = space.act_bits.index(bits)
    try:
        res = EvolutionSearch(space, score_q, feasible, rng, cfg, frozen).run()
    except InfeasibleError:
        log.info("no W%dA%d subnet fits the budget", bits, bits)
        return None
    return _from_result(f"uniform W{bits}A{bits}", res, t0)
