"""Tier configurations chosen by their own trained networks' accuracy on routed hold-out images.

``codesign evaluate`` with ``dqmq.tier_select: val_accuracy`` (and ``tier_train_epochs``,
``tier_finetune_epochs``): the router's clusters stay as the policy cut them, but each
tier's configuration is picked among

* the policy's most likely static choices for the training images routed to the tier
  (:func:`codesign.policy.tiers.ranked_choices`, ``dqmq.tier_select_top`` of them),
* the uniform ``(b, b)`` configurations,

no more expensive than the tier's mode (so the stream's cost can only go down), each trained
apart and tuned on the tier's routed images like ``dqmq/tiers_scratch``; the one with the
best accuracy on hold-out training images (``dqmq.n_val``, disjoint from the training
subset, corrupted by the same mix, ``dqmq.val_repeats`` independent draws of each) routed to
the tier wins, the cheaper on a tie (a tier fewer than ``dqmq.tier_select_min_val`` hold-out
images reach keeps its mode). Why: the policy's mode is what the *switchable* network
prefers; a dedicated network at another configuration may serve the tier's images better
(e.g. fewer bits under noise).

With ``dqmq.tier_select: budget`` every tier's candidates also include costlier choices
(:func:`candidate_configs` with ``any_cost``) and the tiers are chosen together
(:func:`pick_within_budget`): the combination with the best expected hold-out accuracy of
the stream whose mean cost, each tier weighted by its share of the training images, stays
within the budget. Why: a router only pays off where the best precision depends on the
input (``codesign.flow.dqmq_headroom`` measures how much); per-tier "no costlier than the
mode" can save bits where they are wasted but never move them to where they are needed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["candidate_configs", "pick_within_budget", "select_for_router", "select_tiers"]

_MAX_COMBINATIONS = 200_000  # exhaustive search over the tiers' candidates up to this many
_DRAW = 104_729  # seed step between the hold-out's corruption draws (``dqmq.val_repeats``)


def candidate_configs(
    mode: Sequence[int],
    ranked: np.ndarray,
    uniform: Sequence[Sequence[int]],
    cost: Callable[[list[int]], float],
    top: int,
    any_cost: bool = False,
) -> list[list[int]]:
    """The tier's mode first, then ranked and uniform choices no costlier than it, no repeats.

    With ``any_cost`` the costlier ones too (``tier_select: budget`` prices the tiers together).
    """
    limit = float("inf") if any_cost else cost(list(mode)) + 1e-12
    out = [[int(c) for c in mode]]
    for choice in [*np.asarray(ranked)[:top].tolist(), *[list(u) for u in uniform]]:
        choice = [int(c) for c in choice]
        if choice not in out and cost(choice) <= limit:
            out.append(choice)
    return out


def select_tiers(
    tiers: np.ndarray,
    routed: np.ndarray,
    routed_val: np.ndarray,
    val: tuple[Any, Any],
    candidates: Sequence[Sequence[Sequence[int]]],
    train_apart: Callable[[list[int]], Any],
    finetune: Callable[[Any, list[int], np.ndarray, int], Any],
    cost: Callable[[list[int]], float],
    min_val: int = 1,
    budget: float | None = None,
) -> tuple[np.ndarray, list[Any], list[dict[str, Any]]]:
    """Per tier, the candidate whose tuned network is most accurate on its routed hold-out.

    With ``budget``: the tiers' candidates chosen together by :func:`pick_within_budget`
    (weights: each tier's share of ``routed``) instead of one by one.

    Args:
        tiers: ``(T, L)`` the policy's tiers (modes), the clusters' labels.
        routed: ``(N,)`` tier of each training image.
        routed_val: ``(V,)`` tier of each hold-out image.
        val: ``(images (V, 1, H, W), labels (V,))``.
        candidates: Per tier its candidate choices (:func:`candidate_configs`).
        train_apart: ``choice -> network`` trained apart (cached by the caller).
        finetune: ``(network, choice, routed_mask_as_0_or_-1, tier_id) -> plain model``.
        cost: ``choice -> normalized cost``.
        min_val: A tier with fewer routed hold-out images keeps its mode (too little evidence).
        budget: Mean normalized cost the tiers may spend together (``None``: per tier).

    Returns:
        ``(chosen (T, L), models, report)``: the chosen choices, their tuned models (eval
        mode) and per tier the candidates' hold-out accuracy and cost.
    """
    images, labels = val
    share = np.bincount(np.asarray(routed), minlength=len(tiers)) / max(1, len(routed))  # (T,)
    every: list[list[tuple[float, float, list[int], Any]]] = []
    for t in range(len(tiers)):
        mine = np.flatnonzero(np.asarray(routed_val) == t)
        x, y = images[mine], labels[mine]
        own = np.where(np.asarray(routed) == t, 0, -1)
        scored = []
        enough = len(mine) >= max(1, min_val)
        for choice in candidates[t] if enough else candidates[t][:1]:  # no evidence: the mode
            model = finetune(train_apart(choice), choice, own, t)
            acc = _accuracy(model, x, y)
            scored.append((acc, -cost(choice), choice, model))
        every.append(scored)
    if budget is None:
        picks = [max(range(len(sc)), key=lambda j, sc=sc: (sc[j][0], sc[j][1])) for sc in every]
    else:
        accs = [[a for a, _, _, _ in sc] for sc in every]
        costs = [[-nc for _, nc, _, _ in sc] for sc in every]
        picks = pick_within_budget(accs, costs, share, budget)
    chosen, models, report = [], [], []
    for t, (scored, j) in enumerate(zip(every, picks, strict=True)):
        n_val = int(np.sum(np.asarray(routed_val) == t))
        chosen.append(scored[j][2])
        models.append(scored[j][3])
        report.append(
            {
                "tier": t,
                "mode": [int(c) for c in tiers[t]],
                "chosen": scored[j][2],
                "n_val": n_val,
                "share": round(float(share[t]), 4),
                "candidates": [
                    {"choice": c, "val_accuracy": round(a, 4), "cost": round(-nc, 5)}
                    for a, nc, c, _ in scored
                ],
            }
        )
        log.info("tier %d: %s -> %s (hold-out %d images)", t, tiers[t].tolist(), chosen[-1], n_val)
    return np.array(chosen, dtype=np.int64), models, report


def _accuracy(model: Any, x: Any, y: Any, batch: int = 4096) -> float:
    """``model``'s accuracy on ``(x, y)``, in batches (a large hold-out stays small in memory)."""
    import torch  # noqa: PLC0415

    if len(y) == 0:
        return 0.0
    with torch.no_grad():
        right = sum(
            int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum())
            for i in range(0, len(y), batch)
        )
    return float(np.float32(right) / np.float32(len(y)))  # as torch's float32 mean gave


def pick_within_budget(
    accuracy: Sequence[Sequence[float]],
    cost: Sequence[Sequence[float]],
    share: Sequence[float],
    budget: float,
) -> list[int]:
    """Per tier one candidate: best ``sum(share * accuracy)``, ``sum(share * cost) <= budget``.

    Exhaustive over the combinations (ties: the cheaper, then the earlier candidates); if none
    fits, the cheapest combination. Beyond ``_MAX_COMBINATIONS`` a greedy upgrade from the
    cheapest (the best accuracy gained per cost added, while it fits).

    Args:
        accuracy: Per tier, its candidates' hold-out accuracy.
        cost: Per tier, its candidates' normalized cost.
        share: Per tier, the fraction of the stream routed to it.
        budget: The stream's mean cost allowed.

    Returns:
        Per tier the index of its chosen candidate.
    """
    import itertools  # noqa: PLC0415

    acc = [np.asarray(a, dtype=np.float64) for a in accuracy]
    cst = [np.asarray(c, dtype=np.float64) for c in cost]
    w = np.asarray(share, dtype=np.float64)
    cheapest = [int(np.argmin(c)) for c in cst]
    if math.prod(len(a) for a in acc) > _MAX_COMBINATIONS:
        return _greedy_within_budget(acc, cst, w, budget, cheapest)
    best, best_key = cheapest, None
    for combo in itertools.product(*(range(len(a)) for a in acc)):
        spend = float(sum(w[t] * cst[t][j] for t, j in enumerate(combo)))
        if spend > budget + 1e-12:
            continue
        key = (float(sum(w[t] * acc[t][j] for t, j in enumerate(combo))), -spend)
        if best_key is None or key > best_key:
            best, best_key = list(combo), key
    return best


def _greedy_within_budget(
    acc: list[np.ndarray], cst: list[np.ndarray], w: np.ndarray, budget: float, start: list[int]
) -> list[int]:
    picks = list(start)
    spend = float(sum(w[t] * cst[t][j] for t, j in enumerate(picks)))
    while True:
        moves = [
            (
                w[t]
                * (acc[t][j] - acc[t][picks[t]])
                / max(w[t] * (cst[t][j] - cst[t][picks[t]]), 1e-12),
                t,
                j,
            )
            for t in range(len(acc))
            for j in range(len(acc[t]))
            if acc[t][j] > acc[t][picks[t]]
            and spend + w[t] * (cst[t][j] - cst[t][picks[t]]) <= budget + 1e-12
        ]
        if not moves:
            return picks
        _, t, j = max(moves)
        spend += w[t] * (cst[t][j] - cst[t][picks[t]])
        picks[t] = j


def select_for_router(
    sec: Any,
    seed: int,
    holdout: tuple[str, int],
    net: Any,
    policy: Any,
    router: Any,
    routed: np.ndarray,
    data: Any,
    surrogate: Any,
    train_apart: Callable[[list[int]], Any],
    finetune: Callable[[Any, list[int], np.ndarray, int], Any],
    tier_ids: Sequence[int] | None = None,
) -> tuple[np.ndarray, list[Any], list[dict[str, Any]]]:
    """The ``dqmq.tier_select`` of a router's tiers, the same in evaluate and the ``tiers`` step.

    Args:
        sec: The flow's ``dqmq:`` section (``tier_select``, ``n_val``, ``mix``, ...).
        seed: The run's seed (hold-out subset and corruptions).
        holdout: ``(dataset, n_train)``: the hold-out images are those the training subset
            of ``n_train`` leaves out.
        net: The switchable network (its space's uniform choices are candidates).
        policy: The trained policy (each tier's likeliest choices are candidates).
        router: The router; its ``tiers`` are the modes, and it routes the hold-out.
        routed: ``(N,)`` tier of each training image.
        data: The training data (``features``).
        surrogate: Prices a choice (``discrete``).
        train_apart: ``choice -> network`` trained apart (cached by the caller).
        finetune: ``(network, choice, own_mask, tier_id) -> plain model``.
        tier_ids: Each tier's id for ``finetune`` (default its index): a caller that
            reordered the tiers passes their clustering indices, so each is tuned the same.

    Returns:
        :func:`select_tiers`'s ``(chosen (T, L), models, report)``.
    """
    import torch  # noqa: PLC0415

    from codesign.data.splits import load_holdout  # noqa: PLC0415
    from codesign.policy.options import TierSelect  # noqa: PLC0415
    from codesign.policy.policy import mean_log_probs  # noqa: PLC0415
    from codesign.policy.tiers import ranked_choices  # noqa: PLC0415
    from codesign.train.dqmq_run import mixed_data  # noqa: PLC0415

    dataset, n_train = holdout
    x_val, y_val = load_holdout(dataset, n_train, sec.n_val, seed)
    draws = [  # draw 0 is the single draw of val_repeats 1
        mixed_data(x_val, y_val, dict(sec.mix), list(sec.severities), seed + 7919 + _DRAW * r)
        for r in range(sec.val_repeats)
    ]
    images = torch.cat([d.images for d in draws])
    labels = torch.cat([d.labels for d in draws])
    routed_val = router.route(torch.cat([d.features for d in draws]).double().numpy())
    uniform = [net.space.uniform_choice(w, a) for w, a in net.space.uniform_pairs()]
    together = sec.tier_select is TierSelect.BUDGET
    budget = None
    if together:  # the flow's target, or what the policy's tiers spend as cut
        share = np.bincount(routed, minlength=len(router.tiers)) / len(routed)
        spent = sum(
            w * surrogate.discrete(list(t)) for w, t in zip(share, router.tiers, strict=True)
        )
        budget = sec.cost_target if sec.cost_target is not None else float(spent)
    candidates = []
    for t, mode in enumerate(router.tiers):
        mine = np.flatnonzero(routed == t)
        ranked = ranked_choices(
            mean_log_probs(policy, data.features[mine] if mine.size else data.features)
        )
        candidates.append(candidate_configs(mode, ranked, uniform, surrogate.discrete,
                                            sec.tier_select_top, any_cost=together))  # fmt: skip
    ids = list(range(len(router.tiers))) if tier_ids is None else [int(i) for i in tier_ids]

    def tuned(source: Any, choice: list[int], own: np.ndarray, t: int) -> Any:
        return finetune(source, choice, own, ids[t])

    return select_tiers(router.tiers, routed, routed_val, (images, labels), candidates,
                        train_apart, tuned, surrogate.discrete, min_val=sec.tier_select_min_val,
                        budget=budget)  # fmt: skip
