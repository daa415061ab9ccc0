"""The quality-aware bit-width policy: per layer, a linear map of quality features + softmax.

For weight layer ``i`` with ``K_i`` candidate precisions the policy holds a ``(K_i, F)``
matrix and a ``(K_i,)`` bias: ``logits_i = W_i f + b_i`` for the normalized quality features
``f`` of an image (:func:`codesign.quality.quality_features`). That is ``sum_i K_i (F + 1)``
parameters: 112 for the quickstart network with 4 layers x 4 candidates x 6 features. With
``use_quality=False`` the features are ignored and the policy is one static distribution per
layer (the bias): the "best static mixed-precision configuration" baseline trained by the same
loop.

Training uses :func:`gumbel_sample`: Gumbel-softmax samples at temperature ``tau`` with a
straight-through hard one-hot (forward value one-hot, gradient of the soft sample).

Example:
    >>> import torch
    >>> policy = QualityPolicy(n_features=6, sizes=(3, 3, 2))
    >>> logits = policy(torch.zeros(5, 6))
    >>> [tuple(t.shape) for t in logits]
    [(5, 3), (5, 3), (5, 2)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor, nn

__all__ = ["GumbelSample", "QualityPolicy", "anneal_tau", "gumbel_sample", "mean_log_probs"]


class QualityPolicy(nn.Module):
    """Per-layer distributions over candidate precisions, from quality features.

    Attributes:
        sizes: Number of candidates per layer.
        use_quality: False: the features are ignored (a static, input-independent policy).
        heads: One ``nn.Linear(F, K_i)`` per layer.
    """

    def __init__(self, n_features: int, sizes: Sequence[int], use_quality: bool = True) -> None:
        """Build the policy with zero weights and biases: uniform over candidates at start."""
        super().__init__()
        self.n_features = int(n_features)
        self.sizes = tuple(int(k) for k in sizes)
        self.use_quality = bool(use_quality)
        self.heads = nn.ModuleList(nn.Linear(self.n_features, k) for k in self.sizes)
        for head in self.heads:
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    def forward(self, features: Tensor) -> list[Tensor]:
        """Logits per layer: ``(B, F)`` features -> list of ``(B, K_i)``."""
        if not self.use_quality:
            features = torch.zeros_like(features)  # only the bias speaks: a static policy
        return [head(features) for head in self.heads]

    def probs(self, features: Tensor) -> list[Tensor]:
        """Softmax of :meth:`forward`: list of ``(B, K_i)`` rows summing to one."""
        return [F.softmax(logits, dim=-1) for logits in self(features)]

    def argmax(self, features: Tensor) -> Tensor:
        """The most likely candidate per layer, ``(B, L)`` int64."""
        return torch.stack([logits.argmax(dim=-1) for logits in self(features)], dim=1)

    def numpy_params(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per layer ``(W (K_i, F), b (K_i,))`` as float64 numpy arrays (for the router)."""
        out = []
        for head in self.heads:
            w = head.weight.detach().double().numpy().copy()
            if not self.use_quality:
                w[:] = 0.0
            out.append((w, head.bias.detach().double().numpy().copy()))
        return out


@dataclass(frozen=True)
class GumbelSample:
    """One straight-through Gumbel-softmax draw for a batch.

    Attributes:
        index: ``(B, L)`` int64 chosen candidate per layer.
        gate: ``(B, L)`` the hard sample's value at the chosen index: exactly 1 in the
            forward pass, with the soft sample's gradient.
        hard: Per layer ``(B, K_i)`` straight-through one-hot samples.
        log_prob: ``(B,)`` log-probability of ``index`` under the (un-noised) policy.
    """

    index: Tensor
    gate: Tensor
    hard: list[Tensor]
    log_prob: Tensor


def gumbel_sample(logits: Sequence[Tensor], tau: float, gen: torch.Generator) -> GumbelSample:
    """Draw a straight-through Gumbel-softmax sample per layer.

    Args:
        logits: Per layer ``(B, K_i)``.
        tau: Temperature (> 0); lower is closer to one-hot.
        gen: The generator of the Gumbel noise (explicit, for reproducibility).
    """
    index, gate, hard_all, log_prob = [], [], [], 0.0
    for lg in logits:
        u = torch.rand(lg.shape, generator=gen).clamp_(1e-10, 1.0 - 1e-7)  # (B, K)
        g = -torch.log(-torch.log(u))
        soft = F.softmax((lg + g) / tau, dim=-1)  # (B, K)
        idx = soft.argmax(dim=-1)  # (B,)
        one_hot = F.one_hot(idx, lg.shape[-1]).to(soft.dtype)
        hard = one_hot - soft.detach() + soft  # value one-hot, gradient of soft
        index.append(idx)
        gate.append(hard.gather(1, idx[:, None]).squeeze(1))  # (B,) value 1
        hard_all.append(hard)
        log_prob = log_prob + F.log_softmax(lg, dim=-1).gather(1, idx[:, None]).squeeze(1)
    return GumbelSample(
        index=torch.stack(index, dim=1),
        gate=torch.stack(gate, dim=1),
        hard=hard_all,
        log_prob=log_prob,  # type: ignore[arg-type]
    )


def anneal_tau(progress: float, tau_start: float, tau_end: float) -> float:
    """Exponential annealing from ``tau_start`` (progress 0) to ``tau_end`` (progress 1)."""
    p = min(max(progress, 0.0), 1.0)
    return float(tau_start * (tau_end / tau_start) ** p)


def mean_log_probs(policy: QualityPolicy, features: Tensor) -> list[np.ndarray]:
    """Per layer ``(K_i,)``: the mean over ``features`` rows of the policy's log-probabilities."""
    with torch.no_grad():
        return [F.log_softmax(lg, dim=-1).mean(0).double().numpy() for lg in policy(features)]
