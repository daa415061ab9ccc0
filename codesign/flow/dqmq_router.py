"""The tiers and router of a trained policy, as ``dqmq.router`` says (evaluate and the tiers step).

``policy``: :func:`codesign.policy.tiers.fit_tiers` on the policy's hard decisions, routed by the
policy (:class:`codesign.policy.tiers.Router`). ``quality``: k-means on the quality features,
routed to the nearest centre (:class:`codesign.policy.quality_router.QualityRouter`), each
tier's mode the policy's likeliest static choice for its cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from codesign.policy.options import RouterKind

__all__ = ["cut_router"]


def cut_router(
    kind: RouterKind, policy: Any, features: Any, sizes: Sequence[int], k: int, seed: int
) -> Any:
    """``k`` tiers and their router from a trained policy over the training ``features``.

    Args:
        kind: ``dqmq.router``.
        policy: The trained :class:`codesign.policy.policy.QualityPolicy`.
        features: ``(N, F)`` torch tensor of the training images' normalized quality features.
        sizes: Candidates per layer.
        k: ``dqmq.tiers``.
        seed: Seeds the clustering.

    Returns:
        A :class:`~codesign.policy.tiers.Router` or
        :class:`~codesign.policy.quality_router.QualityRouter` (``tiers``, ``route``, ``take``).
    """
    import torch  # noqa: PLC0415

    from codesign.policy.policy import mean_log_probs  # noqa: PLC0415
    from codesign.policy.quality_router import fit_quality_router  # noqa: PLC0415
    from codesign.policy.tiers import Router, fit_tiers, ranked_choices  # noqa: PLC0415

    if kind is RouterKind.QUALITY:

        def mode_of(members: np.ndarray) -> Any:
            own = features[torch.from_numpy(members)] if members.size else features
            return ranked_choices(mean_log_probs(policy, own))[0]

        return fit_quality_router(features.double().numpy(), mode_of, k, seed=seed)
    with torch.no_grad():
        decisions = policy.argmax(features).numpy()  # (N, L)
    fill = ranked_choices(mean_log_probs(policy, features))
    tiers = fit_tiers(decisions, sizes, k, seed=seed, fill=fill)
    return Router.from_params(policy.numpy_params(), tiers)
