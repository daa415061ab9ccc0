"""Measured samples for the predictors: fp32 subnets, and short-QAT quantized subnets.

An fp32 sample is a subnet of the supernet measured after BatchNorm recalibration (cheap: a
forward pass). A quantized sample is the subnet extracted to a
:class:`~codesign.models.cnn.QuantCNN` at its bit config, finetuned with quantization-aware
training for a few steps, then measured (expensive: this is what APQ's transfer saves).

Example::

    data = SampleData(x_train, y_train, x_val, y_val, calib=x_train[:500])
    acc = measure_fp32(net, vectors, data)                    # (N,)
    accq = measure_quantized(net, vector, data, steps=60, seed=0)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from codesign.models.cnn import QuantCNN
from codesign.search.supernet import Supernet, extract_subnet, subnet_accuracy
from codesign.train.fixed import evaluate_accuracy, train_fixed

log = logging.getLogger(__name__)

__all__ = ["SampleData", "finetune_subnet", "measure_fp32", "measure_quantized"]


@dataclass(frozen=True)
class SampleData:
    """The images samples are finetuned, calibrated and measured on.

    Attributes:
        x_train: ``(N, C, H, W)`` training images (QAT finetunes draw from them).
        y_train: ``(N,)`` labels.
        x_val: Held-out images that score subnets (not the test split).
        y_val: Their labels.
        calib: Images for BatchNorm recalibration.
    """

    x_train: Tensor
    y_train: Tensor
    x_val: Tensor
    y_val: Tensor
    calib: Tensor


def measure_fp32(
    net: Supernet,
    vectors: np.ndarray,
    data: SampleData,
    on_sample: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """fp32 validation accuracy of each subnet (rows of ``vectors``), ``(N,)`` float64."""
    out = np.empty(len(vectors))
    for i, vec in enumerate(vectors):
        arch = net.space.decode(vec)
        out[i] = subnet_accuracy(net, arch, data.calib, data.x_val, data.y_val)
        if on_sample is not None:
            on_sample(i + 1, len(vectors))
    return out


def finetune_subnet(
    net: Supernet,
    vector: np.ndarray,
    data: SampleData,
    *,
    steps: int,
    seed: int,
    batch_size: int = 64,
    lr: float = 1e-3,
) -> QuantCNN:
    """Extract subnet ``vector`` at its bit config and QAT-finetune it for ``steps`` steps.

    The finetune images are ``steps * batch_size`` training images drawn with ``seed``.
    """
    arch = net.space.decode(vector)
    model = extract_subnet(net, arch, data.calib)
    gen = torch.Generator().manual_seed(seed)
    n = min(steps * batch_size, data.x_train.shape[0])
    idx = torch.randperm(data.x_train.shape[0], generator=gen)[:n]  # (n,)
    train_fixed(
        model,
        data.x_train[idx],
        data.y_train[idx],
        epochs=max(1, -(-steps * batch_size // n)),
        lr=lr,
        batch_size=batch_size,
        seed=seed,
    )
    return model


def measure_quantized(
    net: Supernet,
    vector: np.ndarray,
    data: SampleData,
    *,
    steps: int,
    seed: int,
    batch_size: int = 64,
    lr: float = 1e-3,
) -> float:
    """Validation accuracy of subnet ``vector`` after a short QAT finetune at its bits."""
    model = finetune_subnet(net, vector, data, steps=steps, seed=seed, batch_size=batch_size, lr=lr)
    return evaluate_accuracy(model, data.x_val, data.y_val)
