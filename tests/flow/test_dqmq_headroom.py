"""Router headroom: the LP allocation, and the oracle router against blind mixes."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.flow.dqmq_headroom import headroom_markdown, route_budget, router_headroom


def _rows(acc: np.ndarray, costs: list[float]) -> list[dict]:
    """Evaluate-style rows: acc (S, C, M) over corrupted conditions, one uniform design per m."""
    rows = []
    for s, per_seed in enumerate(acc):
        for c, per_cond in enumerate(per_seed):
            for m, a in enumerate(per_cond):
                row = {"seed": s, "method": f"uniform_w{m + 2}a{m + 2}/ft", "severity": 3,
                       "cost": costs[m], "lut": 1000 * costs[m]}  # fmt: skip
                rows.append({**row, "condition": f"corr{c}", "accuracy": float(a)})
                rows.append({**row, "condition": "clean", "accuracy": 0.0})  # not scored
    return rows


def test_route_budget_matches_the_linear_program():
    linprog = pytest.importorskip("scipy.optimize").linprog
    rng = np.random.default_rng(0)
    for _ in range(30):
        n, m = rng.integers(2, 8), rng.integers(2, 5)
        acc = rng.uniform(0.5, 0.9, size=(n, m))
        cost = np.sort(rng.uniform(1.0, 3.0, size=m))
        budget = rng.uniform(cost[0], cost[-1])
        x = route_budget(acc, cost, budget)
        assert np.allclose(x.sum(axis=1), 1.0) and (x >= -1e-12).all()
        assert (x @ cost).mean() <= budget + 1e-9
        assert ((x > 1e-9) & (x < 1 - 1e-9)).any(axis=1).sum() <= 1  # one split row at most
        rows_sum_to_one = np.kron(np.eye(n), np.ones(m))
        lp = linprog(-acc.ravel() / n, A_ub=[np.tile(cost, n) / n], b_ub=[budget],
                     A_eq=rows_sum_to_one, b_eq=np.ones(n), bounds=(0, 1))  # fmt: skip
        assert (x * acc).sum(axis=1).mean() == pytest.approx(-lp.fun, abs=1e-9)


def test_route_budget_edges():
    acc = np.array([[0.7, 0.9], [0.6, 0.8]])
    cost = np.array([1.0, 2.0])
    assert route_budget(acc, cost, 5.0).tolist() == [[0, 1], [0, 1]]  # the best fits
    assert route_budget(acc, cost, 0.5).tolist() == [[1, 0], [1, 0]]  # infeasible: cheapest
    same = np.array([[0.8, 0.8]])  # a tie goes to the cheaper design
    assert route_budget(same, cost, 2.0).tolist() == [[1, 0]]


def test_no_headroom_when_every_condition_gains_the_same_per_bit():
    rng = np.random.default_rng(1)
    base = rng.uniform(0.6, 0.8, size=(3, 6, 1))  # (S, C, 1): condition difficulty
    gain = np.array([0.0, 0.03, 0.04, 0.045])  # the same for every condition
    acc = base + gain  # (S, C, M)
    h = router_headroom(_rows(acc, [1.0, 1.2, 1.5, 3.0]))
    assert h is not None and h["seeds"] == [0, 1, 2] and h["conditions"] == 6
    assert len(h["budgets"]) == 4 + 3  # each design's cost and the midpoints
    for b in h["budgets"]:
        assert b["gain"]["mean"] == pytest.approx(0.0, abs=1e-9)


def test_headroom_when_the_best_precision_depends_on_the_condition():
    # noise-like conditions lose nothing at 2 bits; contrast-like ones lose 10 points
    acc = np.array([[[0.80, 0.80], [0.70, 0.80]]] * 2)  # (S=2, C=2, M=2)
    h = router_headroom(_rows(acc, [1.0, 2.0]), also=[1.5])
    mid = next(b for b in h["budgets"] if b["budget"] == 1.5)
    assert mid["routed"]["mean"] == pytest.approx(0.80)  # cheap for noise, costly for contrast
    assert mid["blind"]["mean"] == pytest.approx(0.775)  # half of the stream on each
    assert mid["gain"]["per_seed"] == [pytest.approx(0.025)] * 2
    assert mid["allocation"] == {"uniform_w2a2/ft": 0.5, "uniform_w3a3/ft": 0.5}
    assert mid["lut"] == pytest.approx(1500.0)
    table = headroom_markdown(h)
    assert "| 1.50000 | 1500 | 0.8000 | 0.7750 | +0.0250 ± 0.0000 |" in table


def test_headroom_is_chosen_without_the_scored_seed():
    # seed 0 says design 1 is better on condition 0, seed 1 says the opposite: a choice made
    # on one seed scores the other's opposite, so noise is not counted as headroom
    acc = np.array([[[0.70, 0.80], [0.80, 0.80]], [[0.80, 0.70], [0.80, 0.80]]])
    h = router_headroom(_rows(acc, [1.0, 2.0]), also=[1.5])
    mid = next(b for b in h["budgets"] if b["budget"] == 1.5)
    assert mid["gain"]["mean"] < 0


def test_no_bound_without_two_seeds_or_uniform_designs():
    acc = np.array([[[0.7, 0.8], [0.6, 0.9]]])
    assert router_headroom(_rows(acc, [1.0, 2.0])) is None  # one seed
    assert router_headroom([{"seed": 0, "method": "dqmq/tiers", "condition": "c", "severity": 1,
                             "accuracy": 0.5, "cost": 1.0}]) is None  # fmt: skip
    assert headroom_markdown(None) == ""
