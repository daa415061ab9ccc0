"""Paired gaps of the quality-aware methods against the static designs, with 95% intervals."""

from __future__ import annotations

import json
import math

import pytest
from scipy.stats import t

from codesign.flow.dqmq_gaps import HULL, gaps_markdown, paired_gaps, static_hull


def test_static_hull_single_chord_and_below():
    pts = [(0.80, 1.0), (0.70, 1.5), (0.90, 3.0)]  # (accuracy, cost)
    assert static_hull(pts, 1.0) == pytest.approx(0.80)  # one design no costlier
    # two designs time-shared, not only cost neighbours (0.70 at 1.5 lies below the chord)
    assert static_hull(pts, 1.2) == pytest.approx(0.81)
    assert static_hull(pts, 2.0) == pytest.approx(0.85)
    assert static_hull(pts, 5.0) == pytest.approx(0.90)
    # everything costlier: the best of the cheapest designs (favours the static side)
    assert static_hull([(0.60, 1.0), (0.75, 1.0), (0.9, 2.0)], 0.5) == pytest.approx(0.75)


def _rows(seed: int, method: str, accs: list[float], cost: float, lut: float) -> list[dict]:
    rows = [{"seed": seed, "method": method, "condition": "clean", "accuracy": 0.99,
             "cost": cost, "lut": lut}]  # fmt: skip
    rows += [
        {"seed": seed, "method": method, "condition": f"c{i}", "severity": 2, "accuracy": a,
         "cost": cost, "lut": lut}
        for i, a in enumerate(accs)
    ]  # fmt: skip
    return rows


def test_paired_gaps_interval_and_verdicts():
    gains = [0.010, 0.020, 0.015, 0.005]
    rows = []
    for s, g in enumerate(gains):
        rows += _rows(s, "uniform_w2a2/ft", [0.70, 0.72], 1.0, 100.0)
        rows += _rows(s, "uniform_w4a4/ft", [0.80, 0.82], 3.0, 300.0)
        rows += _rows(s, "static/routed_ft", [0.95, 0.95], 2.0, 200.0)  # not a static design
        # the tiers at cost 2: hull = 0.76 (the chord), tiers = 0.76 + g
        rows += _rows(s, "dqmq/tiers_select", [0.75 + g, 0.77 + g], 2.0, 200.0)
        rows += _rows(s, "dqmq/policy_hard", [0.76 + (-1) ** s * 0.01] * 2, 2.0, 200.0)
    gaps = {(g["method"], g["versus"]): g for g in paired_gaps(rows)}
    hull = gaps[("dqmq/tiers_select", HULL)]
    assert hull["gaps"] == pytest.approx(gains) and hull["n"] == 4 and hull["positive"] == 4
    mean, sd = sum(gains) / 4, float(__import__("numpy").std(gains, ddof=1))
    half = t.ppf(0.975, 3) * sd / math.sqrt(4)
    assert hull["ci95"] == pytest.approx([mean - half, mean + half], abs=1e-5)
    assert hull["verdict"] == "above"
    w4 = gaps[("dqmq/tiers_select", "uniform_w4a4/ft")]
    assert w4["mean"] == pytest.approx(mean - 0.05) and w4["verdict"] == "below"
    assert w4["lut_delta"] == pytest.approx(-100.0)
    assert gaps[("dqmq/policy_hard", HULL)]["verdict"] == "tie"  # +-0.01 alternating
    assert not any(g["versus"] == "static/routed_ft" for g in gaps.values())
    assert not any(g["method"].startswith("uniform") for g in gaps.values())
    table = gaps_markdown(list(gaps.values()))
    assert "| dqmq/tiers_select | static hull (equal cost) | +0.0125 |" in table
    assert "dqmq/policy_hard" not in table  # the deployable tiers by default
    json.dumps(list(gaps.values()), allow_nan=False)  # plain JSON


def test_one_seed_has_no_interval():
    rows = _rows(0, "uniform_w4a4", [0.8], 3.0, 300.0) + _rows(0, "dqmq/tiers", [0.81], 2.0, 200.0)
    (g,) = [g for g in paired_gaps(rows) if g["versus"] == HULL]
    assert g["verdict"] == "one seed" and g["gaps"] == pytest.approx([0.01])
    assert g["ci95"] is None and g["std"] is None
    json.dumps(g, allow_nan=False)
    assert "| n/a | 1/1 | one seed |" in gaps_markdown([g])


def test_a_seed_without_static_rows_has_no_hull_gap():
    rows = _rows(0, "uniform_w4a4", [0.8], 3.0, 300.0) + _rows(0, "dqmq/tiers", [0.81], 2.0, 200.0)
    rows += _rows(1, "dqmq/tiers", [0.90], 2.0, 200.0)  # seed 1: no static design ran
    (g,) = [g for g in paired_gaps(rows) if g["versus"] == HULL]
    assert g["seeds"] == [0] and g["n"] == 1
