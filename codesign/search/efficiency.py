"""Hardware constraints of the search, through the cost-model protocol only.

A candidate is feasible when the cost model's resources fit the board's capacity times a
utilization limit (and an optional LUT budget) and its throughput at the board clock reaches
the FPS target. The cost model (:class:`~codesign.cost.protocol.CostModel`) and the function
that turns a network into the dataflow nodes it prices (``SpecFn``: a family architecture,
its bit config, the per-layer implementations and the FPS target -> ``LayerSpec`` list, with
the folding chosen for that target) are injected: the search never imports an
implementation. Prices are cached by the candidate's *active* choices, so the many
duplicates an evolution proposes cost one dictionary look-up.

Example::

    budget = Budget.for_board(load_board("pynq-z2"), fps=5000, utilization=0.7)
    checker = CostChecker(space, cost_model, spec_fn, budget)
    ok = checker.feasible(vectors)            # (N,) bool
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from codesign.boards import Board
from codesign.cost.protocol import CostModel, DesignCost, Impl, LayerSpec
from codesign.errors import ConfigError, InfeasibleError
from codesign.models.arch import CnnArch
from codesign.models.bits import BitConfig
from codesign.resources import Resources
from codesign.search.space import Arch, SearchSpace

log = logging.getLogger(__name__)

__all__ = ["Budget", "CostChecker", "SpecFn", "canonical_vectors"]

SpecFn = Callable[[CnnArch, BitConfig, Sequence[Impl], float, float], Sequence[LayerSpec]]
"""``spec_fn(arch, bits, impls, fps, clock_mhz) -> layer specs`` folded for ``fps``."""

_CHECKED = ("lut", "ff", "bram18", "uram", "dsp")


@dataclass(frozen=True)
class Budget:
    """What a design may use: resource limits and a throughput floor.

    Attributes:
        limit: Resources allowed (board capacity x utilization, LUTs capped by a budget).
        fps: Frames per second the design must reach.
        clock_mhz: The clock the cost model's cycles are counted at.
    """

    limit: Resources
    fps: float
    clock_mhz: float

    @classmethod
    def for_board(
        cls,
        board: Board,
        *,
        fps: float,
        utilization: float = 0.7,
        lut_budget: int | None = None,
        clock_mhz: float | None = None,
    ) -> Budget:
        """The budget on ``board``: every resource x ``utilization``, LUTs also <= budget.

        Raises:
            ConfigError: ``fps`` or ``utilization`` out of range.
        """
        if not fps > 0:
            raise ConfigError(f"--fps must be > 0, got {fps}")
        if not 0 < utilization <= 1:
            raise ConfigError(f"utilization must be in (0, 1], got {utilization}")
        cap = board.capacity
        lut = cap.lut * utilization
        if lut_budget is not None:
            lut = min(lut, lut_budget * utilization)
        limit = Resources(
            lut=lut,
            ff=cap.ff * utilization,
            bram18=cap.bram18 * utilization,
            uram=cap.uram * utilization,
            dsp=cap.dsp * utilization,
        )
        return cls(limit=limit, fps=fps, clock_mhz=clock_mhz or board.clock_mhz)

    def admits(self, cost: DesignCost) -> bool:
        """True when ``cost`` fits the limits and reaches the FPS target."""
        fits = all(getattr(cost.resources, k) <= getattr(self.limit, k) for k in _CHECKED)
        return fits and cost.fps(self.clock_mhz) >= self.fps


def canonical_vectors(space: SearchSpace, vectors: np.ndarray) -> np.ndarray:
    """``vectors`` with every entry of an inactive slot set to 0 (same network, one key)."""
    vectors = np.atleast_2d(np.asarray(vectors, dtype=np.int64)).copy()
    mask = space.active_mask(vectors)  # (N, n_slots + 1)
    n_st, n = len(space.stages), space.n_slots
    starts = (n_st, n_st + n, n_st + 2 * n, n_st + 3 * n + 1, n_st + 4 * n + 1)
    lengths = (n, n, n + 1, n, n + 1)
    for start, length in zip(starts, lengths, strict=True):
        block = vectors[:, start : start + length]
        block[~mask[:, :length]] = 0
    return vectors


class CostChecker:
    """Prices candidates with an injected cost model and checks them against a budget."""

    def __init__(
        self, space: SearchSpace, cost_model: CostModel, spec_fn: SpecFn, budget: Budget
    ) -> None:
        """Keep the collaborators; nothing is priced yet."""
        if not isinstance(cost_model, CostModel):
            raise TypeError(f"{cost_model!r} does not implement codesign.cost.CostModel")
        self.space = space
        self.cost_model = cost_model
        self.spec_fn = spec_fn
        self.budget = budget
        self._cache: dict[bytes, DesignCost | None] = {}
        self.priced = 0  # designs priced by the cost model (cache misses)

    def cost_of(self, arch: Arch) -> DesignCost:
        """The cost model's price of ``arch`` folded for the FPS target (cached)."""
        return self._cost(canonical_vectors(self.space, self.space.encode(arch))[0])

    def _cost(self, canon: np.ndarray) -> DesignCost | None:
        key = canon.tobytes()
        if key in self._cache:
            return self._cache[key]
        arch = self.space.decode(canon)
        try:
            specs = self.spec_fn(
                self.space.to_cnn_arch(arch),
                self.space.to_bit_config(arch),
                self.space.to_impls(arch),
                self.budget.fps,
                self.budget.clock_mhz,
            )
            cost: DesignCost | None = self.cost_model.design_cost(list(specs))
        except InfeasibleError:  # the spec function cannot fold it for the target at all
            cost = None
        self._cache[key] = cost
        self.priced += 1
        return cost

    def costs(self, vectors: np.ndarray) -> list[DesignCost | None]:
        """Prices of the rows of ``vectors`` (``None``: cannot be built for the target)."""
        return [self._cost(row) for row in canonical_vectors(self.space, vectors)]

    def feasible(self, vectors: np.ndarray) -> np.ndarray:
        """``(N,)`` bool: which rows of ``vectors`` meet the budget."""
        return np.array(
            [c is not None and self.budget.admits(c) for c in self.costs(vectors)], dtype=bool
        )
