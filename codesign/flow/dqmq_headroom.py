"""Router headroom: how much *any* quality router could gain over the same designs used blind.

A quality router can only win if the best precision depends on the input's condition: if
every condition loses the same accuracy per bit, a mix of designs chosen by quality is no
better than the same mix chosen at random (or than one static design of that cost). This
module measures that from the uniform baselines ``codesign evaluate`` already trains, before
(or instead of) trusting a policy's result:

* ``routed(B)``: the best routing of conditions to designs (a fraction of each corrupted
  condition to each uniform design) with mean cost <= ``B``, the condition known exactly
  (an oracle: a feature router can only approach it);
* ``blind(B)``: the best quality-blind mix of the same designs at mean cost <= ``B`` (the
  upper hull of accuracy vs cost: one design, or two time-shared);
* ``gain = routed - blind``: the value of knowing the condition, at equal cost.

Both are chosen on the other seeds and scored on the held-out one (leave one seed out), so
the choice's own noise does not count as headroom; it needs two seeds or more. Each
allocation solves a linear program by its Lagrangian (per condition ``argmax acc - mu *
cost``, ``mu`` bisected until the budget binds, the two sides of the break mixed to meet
it exactly), which is exact for this LP and needs no solver.

Example:
    >>> import numpy as np
    >>> acc = np.array([[0.80, 0.90], [0.80, 0.82]])  # 2 conditions x 2 designs
    >>> route_budget(acc, np.array([1.0, 2.0]), 1.5).round(2).tolist()
    [[0.0, 1.0], [1.0, 0.0]]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

__all__ = ["route_budget", "router_headroom", "headroom_markdown"]

_BISECT = 100  # halvings of the multiplier interval: far below any cost difference


def route_budget(acc: np.ndarray, cost: np.ndarray, budget: float) -> np.ndarray:
    """Routing fractions maximizing mean accuracy at mean cost <= ``budget``.

    Args:
        acc: ``(C, M)`` accuracy of design ``m`` on condition ``c`` (conditions equally
            weighted).
        cost: ``(M,)`` cost of each design.
        budget: Mean cost allowed; below the cheapest design every condition gets it.

    Returns:
        ``(C, M)`` fractions, rows summing to 1; at most one row is split.
    """
    acc = np.asarray(acc, dtype=np.float64)
    cost = np.asarray(cost, dtype=np.float64)
    rows = np.arange(acc.shape[0])
    tie = 1e-12 * (cost - cost.min())  # equal accuracy: the cheaper design

    def pick(mu: float) -> np.ndarray:
        return np.argmax(acc - (mu * cost + tie)[None, :], axis=1)  # (C,)

    def onehot(ix: np.ndarray) -> np.ndarray:
        x = np.zeros_like(acc)
        x[rows, ix] = 1.0
        return x

    best = pick(0.0)
    if cost[best].mean() <= budget:
        return onehot(best)
    hi = 1.0
    while cost[pick(hi)].mean() > budget and hi < 1e12:
        hi *= 2.0
    if cost[pick(hi)].mean() > budget:  # infeasible: the cheapest design everywhere
        return onehot(np.full(acc.shape[0], int(np.argmin(cost))))
    lo = 0.0
    for _ in range(_BISECT):
        mid = 0.5 * (lo + hi)
        if cost[pick(mid)].mean() > budget:
            lo = mid
        else:
            hi = mid
    over, under = pick(lo), pick(hi)
    c_over, c_under = cost[over].mean(), cost[under].mean()
    theta = (budget - c_under) / (c_over - c_under) if c_over > c_under else 0.0
    return theta * onehot(over) + (1.0 - theta) * onehot(under)


class _Tables(NamedTuple):
    designs: list[str]  # M uniform designs
    cost: np.ndarray  # (M,) normalized cost
    lut: np.ndarray  # (M,) LUT
    seeds: list[int]  # S
    conds: list[tuple[str, int]]  # C corrupted (condition, severity)
    acc: np.ndarray  # (S, C, M)


def _uniform_tables(rows: Iterable[dict[str, Any]]) -> _Tables | None:
    """The uniform designs' corrupted accuracy per seed and condition (None: none)."""
    per: dict[str, dict[int, dict[tuple[str, int], float]]] = defaultdict(lambda: defaultdict(dict))
    price: dict[str, tuple[float, float]] = {}
    for r in rows:
        method = r["method"]
        if not method.startswith("uniform_") or r["condition"] in ("clean", "_train"):
            continue
        per[method][r["seed"]][(r["condition"], r["severity"])] = r["accuracy"]
        price[method] = (float(r["cost"]), float(r.get("lut", float("nan"))))
    # each precision once: its tuned variant (the tiers' recipe) where evaluate made one
    names = sorted({m.split("/")[0] for m in per})
    designs = [f"{n}/ft" if f"{n}/ft" in per else n for n in names]
    if not designs:
        return None
    seeds = sorted(set.intersection(*(set(per[d]) for d in designs)))
    shared = [set(per[d][s]) for d in designs for s in seeds]
    conds = sorted(set.intersection(*shared)) if shared else []
    if not conds:
        return None
    acc = np.array([[[per[d][s][c] for d in designs] for c in conds] for s in seeds])  # (S, C, M)
    cost = np.array([price[d][0] for d in designs])
    lut = np.array([price[d][1] for d in designs])
    return _Tables(designs, cost, lut, seeds, conds, acc)


def router_headroom(
    rows: Iterable[dict[str, Any]], also: Sequence[float] = ()
) -> dict[str, Any] | None:
    """The condition-oracle router's gain over blind mixes of the uniform designs.

    Args:
        rows: ``codesign evaluate`` rows; those of ``uniform_wXaX`` (its ``/ft`` variant
            where present) over the corrupted conditions are used.
        also: Normalized costs to measure at besides every uniform design's cost and the
            midpoints between neighbours (where a blind mix must time-share two), e.g. the
            flow's ``cost_target``.

    Returns:
        ``None`` with fewer than two seeds or no uniform designs; else ``{"designs",
        "seeds", "budgets": [{"budget", "lut", "routed", "blind", "gain", "allocation"}]}``
        where ``routed``/``blind``/``gain`` hold ``mean``, ``std`` and ``per_seed`` (the
        held-out seed's corrupted accuracy) and ``allocation`` maps each design to the
        share of the corrupted conditions the all-seed routing sends to it.
    """
    tables = _uniform_tables(rows)
    if tables is None:
        return None
    designs, cost, lut, seeds, conds, acc = tables
    if len(seeds) < 2:
        return None
    levels = sorted(set(cost.tolist()))
    mids = [(a + b) / 2 for a, b in zip(levels, levels[1:], strict=False)]
    out = []
    for budget in sorted({*levels, *mids, *(float(b) for b in also)}):
        routed, blind = [], []
        for i in range(len(seeds)):
            rest = np.delete(acc, i, axis=0).mean(axis=0)  # (C, M): chosen without seed i
            x_routed = route_budget(rest, cost, budget)
            x_blind = route_budget(rest.mean(axis=0, keepdims=True), cost, budget)[0]  # (M,)
            routed.append(float((x_routed * acc[i]).sum(axis=1).mean()))
            blind.append(float(acc[i].mean(axis=0) @ x_blind))
        share = route_budget(acc.mean(axis=0), cost, budget).mean(axis=0)  # (M,)
        gain = [r - b for r, b in zip(routed, blind, strict=True)]
        out.append(
            {
                "budget": round(float(budget), 6),
                "lut": round(float(share @ lut), 1),
                "routed": _stat(routed),
                "blind": _stat(blind),
                "gain": _stat(gain),
                "allocation": {d: round(float(s), 4) for d, s in zip(designs, share, strict=True)},
            }
        )
    return {"designs": designs, "seeds": seeds, "conditions": len(conds), "budgets": out}


def _stat(values: Sequence[float]) -> dict[str, Any]:
    return {
        "mean": round(float(np.mean(values)), 5),
        "std": round(float(np.std(values)), 5),
        "per_seed": [round(v, 5) for v in values],
    }


def headroom_markdown(headroom: dict[str, Any] | None) -> str:
    """The headroom as a markdown section (empty without one)."""
    if headroom is None:
        return ""
    lines = [
        "",
        f"Router headroom over the uniform designs ({', '.join(headroom['designs'])}): the "
        "corrupted accuracy of routing each condition to the best designs at mean cost <= "
        "budget (condition known: an oracle) vs the best quality-blind mix of the same "
        f"designs, both chosen leaving the scored seed out (seeds {headroom['seeds']}).",
        "",
        "| budget | LUT | routed (oracle) | blind | gain | gain per seed |",
        "|---|---|---|---|---|---|",
    ]
    for b in headroom["budgets"]:
        lines.append(
            f"| {b['budget']:.5f} | {b['lut']:.0f} | {b['routed']['mean']:.4f} | "
            f"{b['blind']['mean']:.4f} | {b['gain']['mean']:+.4f} ± {b['gain']['std']:.4f} | "
            + ", ".join(f"{g:+.4f}" for g in b["gain"]["per_seed"])
            + " |"
        )
    return "\n".join(lines) + "\n"
