"""From a per-input policy to K static designs: tiers by clustering, and a numpy router.

A dataflow design has one static precision per layer. :func:`fit_tiers` runs k-means
(k-means++ seeding, a fixed number of Lloyd iterations, seeded) on the policy's hard
decisions over the training data, one-hot encoded per layer; each cluster's tier is the
per-layer most frequent candidate of its members. A policy that decides alike for every
input yields fewer distinct tiers than asked; the next most likely static choices then fill
up to K (the router's share says how much of the stream each one gets).

:class:`Router` sends an input to the tier its policy finds most likely: with the policy's
per-layer linear maps ``(W_i, b_i)`` it computes ``log softmax(W_i f + b_i)`` and picks the
tier ``t`` maximizing ``sum_i log p_i(tier_t[i])``. That is a few small matrix products in
numpy: microseconds per image on the host, next to the FPGA.

With ``k = 1`` the single tier is the policy's static mixed-precision design.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codesign.errors import ConfigError

__all__ = ["Router", "fit_tiers", "one_hot_choices", "ranked_choices"]


def one_hot_choices(choices: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
    """``(N, L)`` candidate indices -> ``(N, sum K_i)`` concatenated one-hots."""
    parts = [np.eye(k)[choices[:, i]] for i, k in enumerate(sizes)]
    return np.concatenate(parts, axis=1)


def fit_tiers(
    choices: np.ndarray,
    sizes: Sequence[int],
    k: int,
    seed: int = 0,
    fill: np.ndarray | None = None,
    iterations: int = 50,
) -> np.ndarray:
    """Cluster hard decisions into ``k`` static choices.

    Args:
        choices: ``(N, L)`` int candidate index per sample and layer.
        sizes: Candidates per layer.
        k: Number of tiers (>= 1).
        seed: Seeds the k-means++ initialisation.
        fill: Optional ``(M, L)`` choices, most likely first (:func:`ranked_choices`): when
            the clusters give fewer than ``k`` distinct tiers (a policy that decides the
            same for every input), the next of these are added, so there are ``k`` tiers;
            the router then says how much of the stream each one gets.
        iterations: Lloyd iterations.

    Returns:
        ``(k', L)`` int tier choices, ordered by the order of their first appearance in
        the clusters (largest cluster first); ``k' < k`` only without ``fill``.

    Raises:
        ConfigError: ``k < 1`` or no decisions.
    """
    if k < 1:
        raise ConfigError(f"the number of tiers must be >= 1, got {k}")
    if choices.ndim != 2 or choices.shape[0] == 0:
        raise ConfigError("fit_tiers needs a non-empty (N, L) array of decisions")
    x = one_hot_choices(choices, sizes)  # (N, D)
    uniq, counts = np.unique(x, axis=0, return_counts=True)  # cluster distinct rows, weighted
    kk = min(k, uniq.shape[0])
    rng = np.random.default_rng(seed)
    centres = [uniq[int(np.argmax(counts))]]  # the most frequent decision first
    while len(centres) < kk:  # k-means++: far points are likelier
        d = np.min(((uniq[:, None, :] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
        w = d * counts
        centres.append(uniq[rng.choice(len(uniq), p=w / w.sum())])
    c = np.array(centres, dtype=np.float64)  # (kk, D)
    for _ in range(iterations):
        assign = np.argmin(((uniq[:, None, :] - c[None]) ** 2).sum(-1), axis=1)  # (U,)
        new = c.copy()
        for j in range(kk):
            members = assign == j
            if np.any(members):
                new[j] = (uniq[members] * counts[members, None]).sum(0) / counts[members].sum()
        if np.allclose(new, c):
            break
        c = new
    weight = np.array([counts[assign == j].sum() for j in range(kk)])
    c = c[np.argsort(-weight, kind="stable")]  # largest cluster first
    # tier = per-layer argmax of the centroid (the most frequent candidate of its members)
    tiers, start = [], 0
    for n in sizes:
        tiers.append(np.argmax(c[:, start : start + n], axis=1))
        start += n
    out: list[tuple[int, ...]] = []
    for row in np.stack(tiers, axis=1).tolist():
        if tuple(row) not in out:
            out.append(tuple(row))
    for row in fill.tolist() if fill is not None else []:
        if len(out) >= k:
            break
        if tuple(row) not in out:
            out.append(tuple(row))
    return np.array(out, dtype=np.int64)


def ranked_choices(mean_log_probs: Sequence[np.ndarray], limit: int = 64) -> np.ndarray:
    """Static choices ordered by the policy's mean log-likelihood over a data set.

    Args:
        mean_log_probs: Per layer ``(K_i,)``: mean over the data of ``log p_i(candidate)``.
        limit: How many to return (at most); combinations of each layer's two best.

    Returns:
        ``(M, L)`` int choices, most likely first.
    """
    import itertools  # noqa: PLC0415

    best = [np.argsort(-lp, kind="stable")[:2] for lp in mean_log_probs]
    combos = list(itertools.product(*[b.tolist() for b in best]))
    score = [
        sum(float(lp[c]) for lp, c in zip(mean_log_probs, combo, strict=True)) for combo in combos
    ]
    order = np.argsort(-np.array(score), kind="stable")[:limit]
    return np.array([combos[i] for i in order], dtype=np.int64)


@dataclass(frozen=True)
class Router:
    """Maps normalized quality features to a tier, in numpy.

    Attributes:
        weights: Per layer ``(K_i, F)`` policy matrix.
        biases: Per layer ``(K_i,)`` policy bias.
        tiers: ``(T, L)`` int tier choices.
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    tiers: np.ndarray

    @classmethod
    def from_params(
        cls, params: Sequence[tuple[np.ndarray, np.ndarray]], tiers: np.ndarray
    ) -> Router:
        """The router of a policy's per-layer ``(weight, bias)`` (``numpy_params()``)."""
        return cls(tuple(w for w, _ in params), tuple(b for _, b in params), tiers)

    def route(self, features: np.ndarray) -> np.ndarray:
        """``(N, F)`` features -> ``(N,)`` tier index."""
        score = np.zeros((features.shape[0], self.tiers.shape[0]))  # (N, T)
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            z = features @ w.T + b  # (N, K_i)
            z = z - z.max(axis=1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))  # (N, K_i)
            score += logp[:, self.tiers[:, i]]  # (N, T)
        return np.argmax(score, axis=1)

    def take(self, order: Sequence[int]) -> Router:
        """The same router with its tiers in ``order``."""
        return Router(self.weights, self.biases, self.tiers[np.asarray(order, dtype=np.int64)])

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON)."""
        return {
            "kind": "policy",
            "weights": [w.tolist() for w in self.weights],
            "biases": [b.tolist() for b in self.biases],
            "tiers": self.tiers.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Router:
        """Read :meth:`to_dict`'s output."""
        return cls(
            weights=tuple(np.asarray(w, dtype=np.float64) for w in data["weights"]),
            biases=tuple(np.asarray(b, dtype=np.float64) for b in data["biases"]),
            tiers=np.asarray(data["tiers"], dtype=np.int64),
        )

    @classmethod
    def load(cls, path: Path) -> Router:
        """Read the router from a tiers JSON file (key ``router``).

        Raises:
            ConfigError: Missing or malformed file.
        """
        try:
            return cls.from_dict(json.loads(Path(path).read_text())["router"])
        except (OSError, KeyError, ValueError, TypeError) as err:
            raise ConfigError(f"cannot read a router from {path}: {err}") from None
