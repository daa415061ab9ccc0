"""Measured rounds: search, build and measure, correct the pricing, search again.

One method's loop (:func:`measured_rounds`), for at most ``max_rounds`` rounds:

1. fit a :class:`~codesign.search.feedback.Correction` on every design measured so far in
   this run (all methods: the correction belongs to the cost model, not to a method);
2. run the method's search with the corrected pricing under the *measured* LUT budget
   (seconds);
3. finetune the winner, build it and measure it (``finish``: the flow's export, compile,
   bit-exact simulate and Yosys synth);
4. stop when the measured LUTs are within the budget; else add the measurement and repeat.

Each round is saved in ``rounds.json`` (atomically) with the winner's key; a re-run with the
same settings reuses a saved round whose search picks the same design again, so a killed run
resumes after its last measured round.

The comparison protocol that :func:`codesign.search.run.run_search` builds on it (declared
in docs/search.md): the reference method (``sequential``) runs under the budget ``B`` until
its winner measures ``<= B``; every other method then runs under ``min(B, the reference's
final measured LUTs)``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from codesign.errors import InfeasibleError
from codesign.io import atomic_write_json
from codesign.search.baselines import SearchOutcome
from codesign.search.efficiency import CostChecker, canonical_vectors
from codesign.search.feedback import Correction, MeasuredPoint, measured_resources
from codesign.search.space import SearchSpace

log = logging.getLogger(__name__)

__all__ = ["ROUNDS_FILE", "RoundsState", "measured_rounds"]

ROUNDS_FILE = "rounds.json"

FeasibleFn = Callable[[np.ndarray], np.ndarray]
SearchFn = Callable[[FeasibleFn], SearchOutcome]
"""Runs one method's search with the given constraint; returns its winner."""
FinishFn = Callable[[SearchOutcome, str], dict[str, Any]]
"""``finish(outcome, slug)``: finetune, test, build and measure; the report row."""


@dataclass
class RoundsState:
    """The measured rounds of a run folder, read back on resume.

    Attributes:
        path: ``rounds.json``.
        settings: What the rounds depend on; saved rounds are reused only when equal.
        methods: Method -> its rounds (``key``, ``point``, ``row``, ``summary``).
    """

    path: Path
    settings: dict[str, Any]
    methods: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, settings: dict[str, Any]) -> RoundsState:
        """The saved rounds at ``path`` if they were made with ``settings``; else none."""
        settings = json.loads(json.dumps(settings, default=str))
        if path.is_file():
            saved = json.loads(path.read_text())
            if saved.get("settings") == settings:
                return cls(path, settings, saved.get("methods", {}))
            log.info("%s: other settings, the rounds start again", path)
        return cls(path, settings)

    def save(self) -> None:
        """Write the state atomically."""
        atomic_write_json(self.path, {"settings": self.settings, "methods": self.methods})


def _key(space: SearchSpace, vector: np.ndarray) -> str:
    return canonical_vectors(space, vector[None])[0].tobytes().hex()


def _summary(row: dict[str, Any], point: MeasuredPoint | None) -> dict[str, Any]:
    sim = (row.get("measured") or {}).get("simulate") or {}
    out = {
        k: row.get(k)
        for k in ("widths", "bits", "impls", "predicted_accuracy", "test_accuracy", "search_s")
    }
    out["estimated_lut"] = None if point is None else round(point.estimated.lut, 1)
    if point is not None:
        out["measured"] = {k: point.measured.to_dict()[k] for k in ("lut", "dsp", "bram18", "ff")}
    out["fps"] = sim.get("fps")
    out["bit_exact"] = sim.get("bit_exact")
    out["hardware_s"] = (row.get("measured") or {}).get("seconds")
    return out


def measured_rounds(
    method: str,
    search: SearchFn,
    finish: FinishFn,
    *,
    checker: CostChecker,
    measured_lut: float,
    max_rounds: int,
    state: RoundsState,
    prior: Sequence[MeasuredPoint] = (),
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Rounds of ``method`` until its measured winner has at most ``measured_lut`` LUTs.

    Args:
        method: The method's name (rows are ``<method>_r<k>``).
        search: Runs the method's search under a constraint.
        finish: Finetunes, tests, builds and measures a winner; returns its report row.
        checker: The search's (uncorrected) cost checker; each round re-checks with its
            prices, under its budget with the LUT limit replaced by ``measured_lut``.
        measured_lut: The LUT budget the *measured* winner must meet.
        max_rounds: Bound on the rounds (builds) of this method.
        state: Saved rounds (read for resume, appended and saved after each round).
        prior: Designs measured before this method's rounds (earlier methods').
        progress: ``progress(task, done, total)``.

    Returns:
        ``{"method", "measured_budget_lut", "converged", "stopped", "rounds", "final",
        "points"}``: ``rounds`` holds each round's correction, estimated and measured
        resources, accuracy and times; ``final`` the last round's full row; ``points`` this
        method's measured designs.
    """
    space = checker.space
    saved = state.methods.setdefault(method, [])
    rounds: list[dict[str, Any]] = []
    mine: list[MeasuredPoint] = []
    final: dict[str, Any] | None = None
    stopped = "rounds exhausted"
    converged = False
    budget = replace(checker.budget, limit=replace(checker.budget.limit, lut=measured_lut))
    for r in range(max_rounds):
        if progress:
            progress(f"{method} rounds", r, max_rounds)
        # Earlier methods' measurements count too (the correction is the cost model's).
        corr = Correction.fit([*prior, *mine])
        t0 = time.perf_counter()
        corrected = checker.rechecked(budget, None if corr.identity else corr.apply)
        try:
            outcome = search(corrected.feasible)
        except InfeasibleError as err:
            stopped = f"nothing fits the corrected budget: {err}"
            log.info("%s round %d: %s", method, r, stopped)
            break
        search_s = time.perf_counter() - t0
        key = _key(space, outcome.vector)
        slug = f"{method.replace(' ', '_')}_r{r}"
        if r < len(saved) and saved[r]["key"] == key:
            entry = saved[r]
            log.info("%s round %d: resumed (%s)", method, r, slug)
        else:
            del saved[r:]
            row = finish(outcome, slug)
            est = checker.costs(outcome.vector[None])[0]
            meas = measured_resources((row.get("measured") or {}).get("synth"))
            point = (
                None if est is None or meas is None else MeasuredPoint(slug, est.resources, meas)
            )
            entry = {
                "key": key,
                "row": row,
                "point": None if point is None else point.to_dict(),
            }
            saved.append(entry)
            state.save()
        row = entry["row"]
        point = None if entry["point"] is None else MeasuredPoint.from_dict(entry["point"])
        summary = {
            "round": r,
            "correction": corr.to_dict(),
            "estimated_lut_limit": round(measured_lut / corr.factors.get("lut", 1.0), 1),
            "search_now_s": round(search_s, 2),
            **_summary(row, point),
        }
        rounds.append(summary)
        final = row
        if point is not None:
            mine.append(point)
        if point is None:
            stopped = "the winner was not measured (no synth result)"
            break
        log.info(
            "%s round %d: est %.0f LUT (x%.3f), measured %.0f, budget %.0f",
            method,
            r,
            point.estimated.lut,
            corr.factors.get("lut", 1.0),
            point.measured.lut,
            measured_lut,
        )
        if point.measured.lut <= measured_lut:
            converged, stopped = True, "measured within budget"
            break
    if progress:
        progress(f"{method} rounds", len(rounds), len(rounds))
    return {
        "method": method,
        "measured_budget_lut": measured_lut,
        "converged": converged,
        "stopped": stopped,
        "rounds": rounds,
        "final": final,
        "points": mine,
    }
