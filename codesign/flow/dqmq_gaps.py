"""Paired gaps with confidence intervals: is a quality-aware method above the static designs?

The question DQMQ is judged on is a paired one: on the same seed (same data order, same
test images and corruptions), is the quality-aware method's corrupted accuracy above

* the **static hull at equal cost**: the best static design no costlier than the method, or
  two static designs time-shared to the method's exact mean cost (every uniform baseline,
  every ``static/*`` design but ``routed_ft``, the switchable net at each uniform precision);
* each static design on its own (``static/select``: the same pick without the router;
  ``uniform_w4a4/ft``: "never below W4A4 at lower cost"), with the cost difference.

Per comparison: the per-seed gaps, mean, standard deviation, standard error, a two-sided 95%
Student-t interval and the number of positive seeds. With gaps of a few tenths of a point
and a seed spread as large, the interval (not a per-seed rule) is what can tell a win from a
tie; it narrows with the square root of the seeds (``codesign evaluate --jobs``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["HULL", "gaps_markdown", "paired_gaps", "static_hull"]

HULL = "static hull (equal cost)"
_ADAPTIVE = ("dqmq/", "dqnet/")  # per-image precision (or a router): not static designs
_NOT_STATIC = ("static/routed_ft",)  # one precision, but per-tier weights behind the router


def _per_seed(rows: Iterable[dict[str, Any]]) -> dict[str, dict[int, tuple[float, float, float]]]:
    """Per method and seed: mean corrupted accuracy, mean cost and mean LUT (NaN without)."""
    acc: dict[tuple[str, int], list[tuple[float, float, float]]] = defaultdict(list)
    for r in rows:
        if r.get("condition") in ("clean", "_train") or r.get("accuracy") is None:
            continue
        acc[(r["method"], int(r["seed"]))].append(
            (float(r["accuracy"]), float(r["cost"]), float(r.get("lut", math.nan)))
        )
    out: dict[str, dict[int, tuple[float, float, float]]] = defaultdict(dict)
    for (method, seed), vals in acc.items():
        a, c, lut = np.mean(np.asarray(vals), axis=0)
        out[method][seed] = (float(a), float(c), float(lut))
    return out


def _is_static(method: str) -> bool:
    if method in _NOT_STATIC:
        return False
    return not method.startswith(_ADAPTIVE) or method.startswith("dqmq/switchable_")


def static_hull(points: Sequence[tuple[float, float]], cost: float) -> float:
    """Best accuracy of static designs ``(accuracy, cost)`` at mean cost ``cost``.

    One design no costlier, or two time-shared to exactly ``cost``; when every design costs
    more, the best of the cheapest (the comparison then favours the static side).
    """
    pts = sorted((c, a) for a, c in points)
    cheapest = max(a for c, a in pts if c == pts[0][0])
    best = max((a for c, a in pts if c <= cost + 1e-12), default=cheapest)
    for c1, a1 in pts:  # every pair straddling the cost, not only neighbours
        for c2, a2 in pts:
            if c1 <= cost <= c2 and c2 > c1:
                best = max(best, a1 + (a2 - a1) * (cost - c1) / (c2 - c1))
    return best


def _interval(gaps: Sequence[float]) -> dict[str, Any]:
    from scipy.stats import t  # noqa: PLC0415

    g = np.asarray(gaps, dtype=np.float64)
    n = len(g)
    mean = float(g.mean())
    out: dict[str, Any] = {
        "n": n,
        "gaps": [round(float(x), 5) for x in g],
        "mean": round(mean, 5),
        "std": None,
        "se": None,
        "ci95": None,
        "positive": int((g > 0).sum()),
    }
    if n > 1:  # one seed: no spread, no interval
        sd = float(g.std(ddof=1))
        se = sd / math.sqrt(n)
        half = float(t.ppf(0.975, n - 1)) * se
        out.update(std=round(sd, 5), se=round(se, 5),
                   ci95=[round(mean - half, 5), round(mean + half, 5)])  # fmt: skip
    return out


def paired_gaps(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every quality-aware method against the static hull and each static design, paired.

    Returns:
        One dict per (method, versus): ``method``, ``versus``, the seeds, :func:`_interval`'s
        statistics of the corrupted-accuracy gaps, ``verdict`` (``above`` / ``below`` when
        the 95% interval excludes 0, else ``tie``) and the mean cost and LUT differences.
    """
    per = _per_seed(rows)
    statics = sorted(m for m in per if _is_static(m))
    adaptive = sorted(m for m in per if not _is_static(m))
    out = []
    for method in adaptive:
        for versus in [HULL, *statics]:
            seeds = (
                sorted(per[method])
                if versus == HULL
                else sorted(set(per[method]) & set(per[versus]))
            )
            gaps, dcost, dlut, used = [], [], [], []
            for s in seeds:
                a, c, lut = per[method][s]
                if versus == HULL:
                    pts = [(per[m][s][0], per[m][s][1]) for m in statics if s in per[m]]
                    if not pts:  # a seed without static rows has no hull
                        continue
                    gaps.append(a - static_hull(pts, c))
                    dcost.append(0.0)
                    dlut.append(0.0)
                else:
                    va, vc, vlut = per[versus][s]
                    gaps.append(a - va)
                    dcost.append(c - vc)
                    dlut.append(lut - vlut)
                used.append(s)
            if not gaps:
                continue
            stats = _interval(gaps)
            lo, hi = stats["ci95"] or (math.nan, math.nan)
            verdict = "above" if lo > 0 else ("below" if hi < 0 else "tie")
            out.append({
                "method": method,
                "versus": versus,
                "seeds": used,
                **stats,
                "verdict": verdict if stats["n"] > 1 else "one seed",
                "cost_delta": round(float(np.mean(dcost)), 6),
                "lut_delta": _finite(float(np.mean(dlut))),
            })  # fmt: skip
    return out


def _finite(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 1)


def gaps_markdown(gaps: Sequence[dict[str, Any]], methods: Sequence[str] | None = None) -> str:
    """The gaps of ``methods`` (default: the deployable tiers) as a markdown table."""
    show = methods or sorted({g["method"] for g in gaps if "/tiers" in g["method"]})
    lines = [
        "",
        "## Paired gaps (corrupted accuracy, same seed; 95% Student-t interval)",
        "",
        "| method | versus | mean gap | 95% interval | seeds > 0 | verdict | LUT diff |",
        "|---|---|---|---|---|---|---|",
    ]
    for g in gaps:
        if g["method"] not in show:
            continue
        ci = "n/a" if g["ci95"] is None else "[{:+.4f}, {:+.4f}]".format(*g["ci95"])
        lines.append(
            f"| {g['method']} | {g['versus']} | {g['mean']:+.4f} | {ci} | "
            f"{g['positive']}/{g['n']} | {g['verdict']} | "
            f"{'' if g['lut_delta'] is None else format(g['lut_delta'], '+.0f')} |"
        )
    return "\n".join(lines) + "\n"
