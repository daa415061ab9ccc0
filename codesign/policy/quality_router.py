"""Tiers cut by the inputs' quality: k-means on the quality features, nearest-centre routing.

``dqmq.router: quality``. The policy router (:class:`codesign.policy.tiers.Router`) clusters
the policy's *decisions*; when the trained policy decides nearly alike for every input (session
6 measured two or three of five such tiers getting 0-2% of the images), those tiers are nearly
one static design. This router clusters the *inputs* instead: k-means (scikit-learn, k-means++,
``n_init`` restarts, seeded) on the normalized quality features of the training images, so each
tier is a region of quality space (clean, noisy, low contrast, ...) whatever the policy decides.
A tier's mode is the policy's likeliest static choice for the images of its cluster (the
caller's ``mode_of``); ``codesign.flow.dqmq_select`` can then pick each tier's design on routed
hold-out images.

Routing is to the nearest centre (squared Euclidean distance), in numpy: ``T x F`` numbers and a
few vector operations per image on the host.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from codesign.errors import ConfigError
from codesign.policy.tiers import Router

__all__ = ["QualityRouter", "fit_quality_router", "router_from_dict"]

KIND = "quality"


@dataclass(frozen=True)
class QualityRouter:
    """Maps normalized quality features to the tier of the nearest centre.

    Attributes:
        centres: ``(T, F)`` k-means centres in feature space, one per tier.
        tiers: ``(T, L)`` int tier choices (two tiers may share one).
    """

    centres: np.ndarray
    tiers: np.ndarray

    def route(self, features: np.ndarray) -> np.ndarray:
        """``(N, F)`` features -> ``(N,)`` tier index (the nearest centre; ties: the lower)."""
        return _nearest(np.asarray(features, dtype=np.float64), self.centres)

    def take(self, order: Sequence[int]) -> QualityRouter:
        """The same router with its tiers (and centres) in ``order``."""
        idx = np.asarray(order, dtype=np.int64)
        return QualityRouter(self.centres[idx], self.tiers[idx])

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON)."""
        return {"kind": KIND, "centres": self.centres.tolist(), "tiers": self.tiers.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityRouter:
        """Read :meth:`to_dict`'s output."""
        return cls(
            centres=np.asarray(data["centres"], dtype=np.float64),
            tiers=np.asarray(data["tiers"], dtype=np.int64),
        )


def fit_quality_router(
    features: np.ndarray,
    mode_of: Callable[[np.ndarray], Sequence[int]],
    k: int,
    seed: int = 0,
    n_init: int = 10,
) -> QualityRouter:
    """K-means on the training images' quality features; each cluster's tier from ``mode_of``.

    Args:
        features: ``(N, F)`` normalized quality features of the training images.
        mode_of: Indices of a cluster's images -> its tier's choice (``(L,)`` ints).
        k: Number of tiers (>= 1); at most the number of distinct feature rows.
        seed: Seeds k-means (``random_state``).
        n_init: k-means restarts (the best inertia is kept).

    Returns:
        The router, tiers in cluster order (largest cluster first).

    Raises:
        ConfigError: ``k < 1``, no features, or fewer distinct inputs than ``k``.
    """
    from sklearn.cluster import KMeans  # noqa: PLC0415

    x = np.asarray(features, dtype=np.float64)
    if k < 1:
        raise ConfigError(f"the number of tiers must be >= 1, got {k}")
    if x.ndim != 2 or x.shape[0] == 0:
        raise ConfigError("the quality router needs a non-empty (N, F) array of features")
    if np.unique(x, axis=0).shape[0] < k:
        raise ConfigError(f"{k} quality tiers need at least {k} distinct inputs")
    km = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(x)
    centres = np.asarray(km.cluster_centers_, dtype=np.float64)  # (k, F)
    labels = _nearest(x, centres)  # as the router will send them
    sizes = np.bincount(labels, minlength=k)
    order = np.argsort(-sizes, kind="stable")  # largest cluster first
    tiers = np.array(
        [[int(c) for c in mode_of(np.flatnonzero(labels == c))] for c in order], dtype=np.int64
    )
    return QualityRouter(centres[order], tiers)


def _nearest(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """``(N, F)`` points -> ``(N,)`` index of the nearest of ``(T, F)`` centres (squared L2)."""
    d = (x * x).sum(1)[:, None] - 2.0 * x @ centres.T + (centres**2).sum(1)[None]
    return np.argmin(d, axis=1)


def router_from_dict(data: dict[str, Any]) -> Router | QualityRouter:
    """Either router from its JSON (``kind: quality``, or the policy router without a kind).

    Raises:
        ConfigError: A malformed router.
    """
    try:
        if data.get("kind") == KIND:
            return QualityRouter.from_dict(data)
        return Router.from_dict(data)
    except (AttributeError, KeyError, ValueError, TypeError) as err:
        raise ConfigError(f"cannot read the tiers' router: {err}") from None
