"""Accuracy predictors: an MLP over a one-hot encoding, fp32 -> quantization-aware transfer.

APQ's recipe (mit-han-lab/apq): an MLP (3 hidden layers of 400) over a one-hot encoding of
the architecture is trained on many cheap fp32 subnet measurements; the quantization-aware
predictor has the same input plus the per-layer bits, is *initialised from* the fp32
predictor and finetuned on a few expensive quantized measurements (short QAT finetunes).
Here the encoding has one block per vector entry of :class:`~codesign.search.space.SearchSpace`
(depth, width, kernel, weight bits, act bits, impl); entries of inactive slots are all-zero
(the layer does not exist), and an fp32 sample has all bit blocks zero (no quantization), so
one network reads both kinds of sample. The impl blocks are always zero: a layer's MVU
implementation (DSP or LUT) computes the same integers bit for bit (docs/lowbit.md), so it
cannot change the accuracy, and a predictor that saw it would only fit noise; the search
chooses it by cost alone.

Example::

    x = encode_features(space, vectors, quantized=False)      # (N, F) float32
    fp32 = AccuracyPredictor(x.shape[1])
    fit_predictor(fp32, x, acc, seed=0)
    qpred = transfer(fp32)                                    # a copy to finetune
    fit_predictor(qpred, xq, accq, seed=0, epochs=200)
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import kendalltau
from torch import nn

from codesign.search.space import SearchSpace

log = logging.getLogger(__name__)

__all__ = [
    "AccuracyPredictor",
    "PredictorScore",
    "encode_features",
    "fit_predictor",
    "score_predictor",
    "transfer",
]


def _layout(space: SearchSpace) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One-hot offset, choices, slot and precision flag of each vector entry.

    The slot is -1 for a depth entry and ``n_slots`` for the classifier's entries.
    """
    card = space.cardinalities
    offsets = np.concatenate([[0], np.cumsum(card)[:-1]])
    n_st, n = len(space.stages), space.n_slots
    slot = np.concatenate(
        [
            np.full(n_st, -1),
            np.arange(n),  # widths
            np.arange(n),  # kernels
            np.arange(n + 1),  # weight bits (+ classifier)
            np.arange(n),  # act bits
            np.arange(n + 1),  # impls (+ classifier)
        ]
    )
    quant = np.concatenate([np.zeros(n_st + 2 * n, bool), np.ones(3 * n + 2, bool)])
    return offsets, card, slot, quant


def encode_features(space: SearchSpace, vectors: np.ndarray, *, quantized: bool) -> np.ndarray:
    """One-hot features of choice vectors (``space.encode`` rows), ``(N, F)`` float32.

    Args:
        space: The space the vectors belong to.
        vectors: ``(N, vector_length)`` or ``(vector_length,)`` choice indices.
        quantized: False for fp32 samples: bit and impl blocks stay zero.
    """
    vectors = np.atleast_2d(np.asarray(vectors, dtype=np.int64))
    offsets, card, slot, quant = _layout(space)
    n_rows = vectors.shape[0]
    out = np.zeros((n_rows, int(card.sum())), dtype=np.float32)
    mask = space.active_mask(vectors)  # (N, n_slots + 1)
    keep = np.ones((n_rows, len(card)), bool)  # (N, L)
    has_slot = slot >= 0
    keep[:, has_slot] = mask[:, slot[has_slot]]
    if not quantized:
        keep[:, quant] = False
    keep[:, -(space.n_slots + 1) :] = False  # impl: same function, bit for bit (see above)
    rows, cols = np.nonzero(keep)
    out[rows, offsets[cols] + vectors[rows, cols]] = 1.0
    return out


class AccuracyPredictor(nn.Module):
    """MLP ``features -> accuracy``: ``depth`` hidden ReLU layers of ``hidden`` units.

    The output is ``base + head(x)``, with ``base`` set to the mean training accuracy by
    :func:`fit_predictor` (APQ's predictor has the same base-accuracy term).
    """

    def __init__(self, n_features: int, hidden: int = 400, depth: int = 3) -> None:
        """Build the MLP (seed the global torch RNG first for a reproducible init)."""
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        self.register_buffer("base", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted accuracy of ``x`` (``(N, F)``), shape ``(N,)``."""
        return self.net(x).squeeze(1) + self.base  # (N,)

    @torch.no_grad()
    def predict(self, features: np.ndarray) -> np.ndarray:
        """Predicted accuracies of a ``(N, F)`` feature array, as float64 numpy ``(N,)``."""
        self.eval()
        return self(torch.from_numpy(np.ascontiguousarray(features))).double().numpy()


def transfer(predictor: AccuracyPredictor) -> AccuracyPredictor:
    """A copy of ``predictor`` to finetune on quantized samples (APQ's transfer)."""
    return copy.deepcopy(predictor)


def fit_predictor(
    model: AccuracyPredictor,
    features: np.ndarray,
    targets: np.ndarray,
    *,
    seed: int,
    epochs: int = 300,
    lr: float = 1e-3,
    batch_size: int = 64,
    weight_decay: float = 1e-4,
    reset_base: bool = True,
) -> float:
    """Fit ``model`` to ``targets`` (accuracies) by MSE with Adam; return the final train RMSE.

    Args:
        model: The predictor (trained in place).
        features: ``(N, F)`` float32 features.
        targets: ``(N,)`` accuracies.
        seed: Seeds the batch order.
        epochs: Passes over the samples.
        lr: Adam learning rate.
        batch_size: Samples per step.
        weight_decay: Adam L2 term.
        reset_base: Set ``base`` to the targets' mean first (off to keep a transferred base).
    """
    x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))  # (N, F)
    y = torch.from_numpy(np.asarray(targets, dtype=np.float32))  # (N,)
    if reset_base:
        model.base.fill_(float(y.mean()))
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    n = x.shape[0]
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            loss = nn.functional.mse_loss(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        return math.sqrt(float(nn.functional.mse_loss(model(x), y)))


@dataclass(frozen=True)
class PredictorScore:
    """Held-out quality of a predictor: RMSE (accuracy units) and Kendall's tau."""

    rmse: float
    kendall_tau: float
    n: int

    def to_dict(self) -> dict[str, float]:
        """JSON form."""
        return {"rmse": round(self.rmse, 5), "kendall_tau": round(self.kendall_tau, 4), "n": self.n}


def score_predictor(
    model: AccuracyPredictor, features: np.ndarray, targets: np.ndarray
) -> PredictorScore:
    """RMSE and Kendall's tau of ``model`` on held-out ``features`` / ``targets``."""
    pred = model.predict(features)
    targets = np.asarray(targets, dtype=np.float64)
    rmse = float(np.sqrt(np.mean((pred - targets) ** 2)))
    tau = float(kendalltau(pred, targets).statistic)
    return PredictorScore(rmse=rmse, kendall_tau=tau, n=len(targets))
