"""Measured feedback: correct the search's pricing with Yosys measurements of its winners.

The calibrated cost model prices candidates for the evolution; a winner is then built and
measured, and the measurement is the final word. When the measured winner is over budget,
the search's pricing is corrected with what was measured and the search runs again, for a
bounded number of rounds (:mod:`codesign.search.rounds`).

The correction is a per-resource factor fitted on the designs measured so far:
``factor = max(measured / estimated)`` over them (LUTs by default). Taking the *largest*
ratio is conservative on purpose: with it, every design already measured over the budget is
priced at or above its measurement, so no round can pick it again, and the rounds make
progress. Designs the model over-prices (ratio < 1) loosen the price only when every
measured design agrees.

Example::

    corr = Correction.fit([MeasuredPoint("joint_r0", est.resources, measured)])
    checker = base_checker.rechecked(budget, corr.apply)   # shares the cached prices
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from codesign.resources import RESOURCE_FIELDS, Resources
from codesign.search.efficiency import Price

log = logging.getLogger(__name__)

__all__ = ["CorrectedPrice", "Correction", "MeasuredPoint", "measured_resources"]


def measured_resources(synth: Mapping[str, Any] | None) -> Resources | None:
    """The whole design's measured resources from a synth step's results, if there are any."""
    whole = (synth or {}).get("whole")
    if not whole:
        return None
    return Resources(**{k: float(whole.get(k, 0) or 0) for k in RESOURCE_FIELDS})


@dataclass(frozen=True)
class MeasuredPoint:
    """One built design: the cost model's (uncorrected) estimate and the measurement.

    Attributes:
        name: Which design (e.g. ``sequential_r0``).
        estimated: The cost model's price, before any correction.
        measured: The synthesis measurement of the same design.
    """

    name: str
    estimated: Resources
    measured: Resources

    def ratio(self, resource: str) -> float | None:
        """``measured / estimated`` of ``resource``; None when nothing was estimated."""
        est = getattr(self.estimated, resource)
        return None if est <= 0 else getattr(self.measured, resource) / est

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "name": self.name,
            "estimated": self.estimated.to_dict(),
            "measured": self.measured.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MeasuredPoint:
        """Read :meth:`to_dict`'s output."""
        return cls(data["name"], Resources(**data["estimated"]), Resources(**data["measured"]))


@dataclass(frozen=True)
class CorrectedPrice:
    """A price with some resources scaled by measured factors (throughput unchanged)."""

    base: Price
    factors: Mapping[str, float]

    @property
    def resources(self) -> Resources:
        """The base price's resources, each corrected resource times its factor."""
        res = self.base.resources
        return replace(res, **{k: getattr(res, k) * f for k, f in self.factors.items()})

    def fps(self, clock_mhz: float) -> float:
        """The base price's throughput (the measurement corrects resources only)."""
        return self.base.fps(clock_mhz)


@dataclass(frozen=True)
class Correction:
    """Per-resource factors that turn the cost model's estimate into the measured scale.

    Attributes:
        factors: Resource name (``lut``...) -> factor; a resource not named is unchanged.
        fitted_on: Names of the measured designs the factors come from.
    """

    factors: Mapping[str, float] = field(default_factory=dict)
    fitted_on: tuple[str, ...] = ()

    @classmethod
    def fit(
        cls, points: Sequence[MeasuredPoint], resources: Sequence[str] = ("lut",)
    ) -> Correction:
        """The largest ``measured / estimated`` per resource over ``points`` (none: identity).

        Raises:
            ValueError: An unknown resource name.
        """
        unknown = [r for r in resources if r not in RESOURCE_FIELDS]
        if unknown:
            raise ValueError(
                f"unknown resource {unknown[0]!r}; known: {', '.join(RESOURCE_FIELDS)}"
            )
        factors = {}
        for r in resources:
            ratios = [x for x in (p.ratio(r) for p in points) if x is not None]
            if ratios:
                factors[r] = max(ratios)
        return cls(factors, tuple(p.name for p in points))

    @property
    def identity(self) -> bool:
        """True when nothing is corrected."""
        return all(f == 1.0 for f in self.factors.values())

    def apply(self, price: Price) -> Price:
        """``price`` corrected (itself when nothing is corrected)."""
        return price if self.identity else CorrectedPrice(price, dict(self.factors))

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "factors": {k: round(v, 4) for k, v in self.factors.items()},
            "fitted_on": list(self.fitted_on),
        }
