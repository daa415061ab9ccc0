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
subset, corrupted by the same mix) routed to the tier wins, the cheaper on a tie (a tier
fewer than ``dqmq.tier_select_min_val`` hold-out images reach keeps its mode). Why: the
policy's mode is what the *switchable* network prefers; a dedicated network at another
configuration may serve the tier's images better (e.g. fewer bits under noise).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["candidate_configs", "select_tiers"]


def candidate_configs(
    mode: Sequence[int],
    ranked: np.ndarray,
    uniform: Sequence[Sequence[int]],
    cost: Callable[[list[int]], float],
    top: int,
) -> list[list[int]]:
    """The tier's mode first, then ranked and uniform choices no costlier than it, no repeats."""
    limit = cost(list(mode)) + 1e-12
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
) -> tuple[np.ndarray, list[Any], list[dict[str, Any]]]:
    """Per tier, the candidate whose tuned network is most accurate on its routed hold-out.

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

    Returns:
        ``(chosen (T, L), models, report)``: the chosen choices, their tuned models (eval
        mode) and per tier the candidates' hold-out accuracy and cost.
    """
    import torch  # noqa: PLC0415

    images, labels = val
    chosen, models, report = [], [], []
    for t in range(len(tiers)):
        mine = np.flatnonzero(np.asarray(routed_val) == t)
        x, y = images[mine], labels[mine]
        own = np.where(np.asarray(routed) == t, 0, -1)
        scored = []
        enough = len(mine) >= max(1, min_val)
        for choice in candidates[t] if enough else candidates[t][:1]:  # no evidence: the mode
            model = finetune(train_apart(choice), choice, own, t)
            with torch.no_grad():
                acc = float((model(x).argmax(1) == y).float().mean()) if len(mine) else 0.0
            scored.append((acc, -cost(choice), choice, model))
        best = max(scored, key=lambda s: (s[0], s[1]))
        chosen.append(best[2])
        models.append(best[3])
        report.append(
            {
                "tier": t,
                "mode": [int(c) for c in tiers[t]],
                "chosen": best[2],
                "n_val": int(len(mine)),
                "candidates": [
                    {"choice": c, "val_accuracy": round(a, 4), "cost": round(-nc, 5)}
                    for a, nc, c, _ in scored
                ],
            }
        )
        log.info("tier %d: %s -> %s (hold-out %d images)", t, tiers[t].tolist(), best[2], len(mine))
    return np.array(chosen, dtype=np.int64), models, report
