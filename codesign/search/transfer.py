"""Does the fp32 -> quantization-aware predictor transfer help? The table over M.

For each ``m`` in ``m_values``: a predictor initialised from the fp32 predictor and
finetuned on the first ``m`` quantized samples (APQ's transfer), and the same network
trained from scratch on the same ``m`` samples; both scored (RMSE, Kendall's tau) on the same
held-out quantized samples. The fp32 predictor itself, applied to the quantized held-out
set with its bits ignored, is the zero-sample row.

Example::

    study = transfer_study(space, fp32_x, fp32_y, q_x, q_y, qh_x, qh_y, m_values=(8, 16, 32))
    study.table()   # list of rows for JSON / the closing note
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from codesign.search.predictor import (
    AccuracyPredictor,
    PredictorScore,
    fit_predictor,
    score_predictor,
    transfer,
)

log = logging.getLogger(__name__)

__all__ = ["TransferStudy", "transfer_study"]


@dataclass
class TransferStudy:
    """Scores per ``m``: transferred and from-scratch, plus the fp32 predictor at ``m = 0``."""

    fp32: PredictorScore
    transferred: dict[int, list[PredictorScore]] = field(default_factory=dict)
    scratch: dict[int, list[PredictorScore]] = field(default_factory=dict)

    def table(self) -> list[dict[str, float]]:
        """One row per ``m``: mean and spread (over seeds) of RMSE and tau for both."""
        rows = [
            {
                "m": 0,
                "transfer_rmse": round(self.fp32.rmse, 4),
                "transfer_tau": round(self.fp32.kendall_tau, 3),
                "scratch_rmse": None,
                "scratch_tau": None,
            }
        ]
        for m in sorted(self.transferred):
            row: dict[str, float] = {"m": m}
            for name, scores in (("transfer", self.transferred[m]), ("scratch", self.scratch[m])):
                rmse = np.array([s.rmse for s in scores])
                tau = np.array([s.kendall_tau for s in scores])
                row[f"{name}_rmse"] = round(float(rmse.mean()), 4)
                row[f"{name}_rmse_std"] = round(float(rmse.std()), 4)
                row[f"{name}_tau"] = round(float(tau.mean()), 3)
                row[f"{name}_tau_std"] = round(float(tau.std()), 3)
            rows.append(row)
        return rows


def transfer_study(
    fp32_predictor: AccuracyPredictor,
    q_x: np.ndarray,
    q_y: np.ndarray,
    held_x: np.ndarray,
    held_y: np.ndarray,
    *,
    m_values: Sequence[int],
    seeds: Sequence[int] = (0, 1, 2),
    epochs: int = 300,
    hidden: int = 400,
) -> TransferStudy:
    """Score transferred vs from-scratch quantization-aware predictors over ``m_values``.

    Args:
        fp32_predictor: Trained on fp32 samples (not modified).
        q_x: ``(M, F)`` features of the quantized training samples (``quantized=True``).
        q_y: ``(M,)`` their measured accuracies.
        held_x: Held-out quantized features.
        held_y: Held-out accuracies.
        m_values: Sample counts to try (each ``<= M``); the first ``m`` samples are used.
        seeds: Seeds of the batch order and of the from-scratch init (spread).
        epochs: Training passes for each fit.
        hidden: Hidden width of the from-scratch predictor (the fp32 one's, to compare).
    """
    study = TransferStudy(fp32=score_predictor(fp32_predictor, held_x, held_y))
    for m in m_values:
        if m > len(q_y):
            continue
        study.transferred[m], study.scratch[m] = [], []
        for seed in seeds:
            tuned = transfer(fp32_predictor)
            # Keep the transferred base: the shift from fp32 to quantized accuracy is learned.
            fit_predictor(tuned, q_x[:m], q_y[:m], seed=seed, epochs=epochs, reset_base=False)
            study.transferred[m].append(score_predictor(tuned, held_x, held_y))
            torch.manual_seed(seed)
            scratch = AccuracyPredictor(q_x.shape[1], hidden=hidden)
            fit_predictor(scratch, q_x[:m], q_y[:m], seed=seed, epochs=epochs)
            study.scratch[m].append(score_predictor(scratch, held_x, held_y))
        log.info(
            "m=%d: transfer tau %.3f, scratch tau %.3f",
            m,
            np.mean([s.kendall_tau for s in study.transferred[m]]),
            np.mean([s.kendall_tau for s in study.scratch[m]]),
        )
    return study
