"""Hardware constraints of the search, through the cost-model protocol only.

A candidate is feasible when its priced resources fit the board's capacity times a
utilization limit (and an optional LUT budget) and its throughput at the board clock reaches
the FPS target. The price comes from an injected ``PriceFn`` (family architecture, bit
config, per-layer implementations, FPS target, clock -> a price with ``resources`` and
``fps(clock_mhz)``, e.g. a :class:`~codesign.cost.protocol.DesignCost`). :func:`spec_pricer`
builds one from any :class:`~codesign.cost.protocol.CostModel` and a ``SpecFn`` (network ->
folded ``LayerSpec`` list); the CLI injects the cost package's cached per-layer-group pricer,
which gives the same prices faster. The search never imports an implementation. Prices are
also cached here by the candidate's *active* choices, so the duplicates an evolution
proposes cost one dictionary look-up.

Example::

    budget = Budget.for_board(load_board("pynq-z2"), fps=5000, utilization=0.7)
    checker = CostChecker(space, spec_pricer(cost_model, spec_fn), budget)
    ok = checker.feasible(vectors)            # (N,) bool
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from codesign.boards import Board
from codesign.cost.protocol import CostModel, DesignCost, Impl, LayerSpec
from codesign.errors import ConfigError, InfeasibleError
from codesign.models.arch import CnnArch
from codesign.models.bits import BitConfig
from codesign.resources import Resources
from codesign.search.space import Arch, SearchSpace

log = logging.getLogger(__name__)

__all__ = [
    "Budget",
    "CostChecker",
    "Price",
    "PriceFn",
    "SpecFn",
    "canonical_vectors",
    "spec_pricer",
]

SpecFn = Callable[[CnnArch, BitConfig, Sequence[Impl], float, float], Sequence[LayerSpec]]
"""``spec_fn(arch, bits, impls, fps, clock_mhz) -> layer specs`` folded for ``fps``."""


class Price(Protocol):
    """What the constraint reads of a price (a ``DesignCost`` has both)."""

    @property
    def resources(self) -> Resources: ...  # noqa: D102

    def fps(self, clock_mhz: float) -> float: ...  # noqa: D102


PriceFn = Callable[[CnnArch, BitConfig, Sequence[Impl], float, float], Price]
"""``price_fn(arch, bits, impls, fps, clock_mhz) -> price`` of the design folded for ``fps``.

Raises ``InfeasibleError`` when the design cannot be folded for the target at all."""


def spec_pricer(cost_model: CostModel, spec_fn: SpecFn) -> PriceFn:
    """A ``PriceFn`` that prices ``spec_fn``'s nodes with ``cost_model.design_cost``."""
    if not isinstance(cost_model, CostModel):
        raise TypeError(f"{cost_model!r} does not implement codesign.cost.CostModel")

    def price(
        arch: CnnArch, bits: BitConfig, impls: Sequence[Impl], fps: float, clock_mhz: float
    ) -> DesignCost:
        return cost_model.design_cost(list(spec_fn(arch, bits, impls, fps, clock_mhz)))

    return price


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

    def admits(self, cost: Price) -> bool:
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
    """Prices candidates with an injected price function and checks them against a budget."""

    def __init__(
        self,
        space: SearchSpace,
        price_fn: PriceFn,
        budget: Budget,
        adjust: Callable[[Price], Price] | None = None,
    ) -> None:
        """Keep the collaborators; nothing is priced yet.

        Args:
            space: The search space.
            price_fn: The cost model's pricing.
            budget: What a feasible design may use.
            adjust: Applied to each price before the budget check (e.g. a measured
                :class:`~codesign.search.feedback.Correction`); :meth:`costs` stays raw.
        """
        self.space = space
        self.price_fn = price_fn
        self.budget = budget
        self.adjust = adjust
        self._cache: dict[bytes, Price | None] = {}
        self._verdicts: dict[bytes, bool] = {}
        self.priced = 0  # designs priced by ``price_fn`` (cache misses)

    def rechecked(
        self, budget: Budget, adjust: Callable[[Price], Price] | None = None
    ) -> CostChecker:
        """A checker under another budget and adjustment that shares this one's prices.

        The search's rounds re-check the same designs under corrected prices; the cost
        model prices each design once.
        """
        other = CostChecker(self.space, self.price_fn, budget, adjust)
        other._cache = self._cache  # noqa: SLF001 (same class)
        return other

    def cost_of(self, arch: Arch) -> Price | None:
        """The cost model's price of ``arch`` folded for the FPS target (cached)."""
        return self._cost(canonical_vectors(self.space, self.space.encode(arch))[0])

    def _cost(self, canon: np.ndarray) -> Price | None:
        key = canon.tobytes()
        if key in self._cache:
            return self._cache[key]
        arch = self.space.decode(canon)
        try:
            cost: Price | None = self.price_fn(
                self.space.to_cnn_arch(arch),
                self.space.to_bit_config(arch),
                self.space.to_impls(arch),
                self.budget.fps,
                self.budget.clock_mhz,
            )
        except InfeasibleError:  # the spec function cannot fold it for the target at all
            cost = None
        self._cache[key] = cost
        self.priced += 1
        return cost

    def costs(self, vectors: np.ndarray) -> list[Price | None]:
        """Prices of the rows of ``vectors`` (``None``: cannot be built for the target)."""
        return [self._cost(row) for row in canonical_vectors(self.space, vectors)]

    def feasible(self, vectors: np.ndarray) -> np.ndarray:
        """``(N,)`` bool: which rows of ``vectors`` meet the budget.

        The verdict is cached with the price, so a repeat costs one look-up.
        """
        canon = canonical_vectors(self.space, vectors)
        out = np.empty(len(canon), dtype=bool)
        verdicts = self._verdicts
        for i, row in enumerate(canon):
            key = row.tobytes()
            ok = verdicts.get(key)
            if ok is None:
                cost = self._cost(row)
                if cost is not None and self.adjust is not None:
                    cost = self.adjust(cost)
                ok = verdicts[key] = cost is not None and self.budget.admits(cost)
            out[i] = ok
        return out
