"""Fixtures for the model tests: real Fashion-MNIST test images and non-trivial models."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from codesign.data import Split, load_fashion_mnist
from codesign.errors import DatasetMissingError
from codesign.models.bits import BitConfig
from codesign.models.cnn import CnnArch, QuantCNN, build_cnn
from codesign.settings import Settings

N_IMAGES = 128


@pytest.fixture(scope="session")
def fashion_images() -> torch.Tensor:
    """The first ``N_IMAGES`` Fashion-MNIST test images, ``(N, 1, 28, 28)`` floats in [0, 1]."""
    try:
        data = load_fashion_mnist(Split.TEST, Settings.from_env().fashion_mnist_dir)
    except DatasetMissingError as err:
        pytest.skip(f"Fashion-MNIST not installed: {err}")
    x = torch.from_numpy(data.images[:N_IMAGES].astype("float32") / 255.0)  # (N, 28, 28)
    return x.unsqueeze(1)  # (N, 1, 28, 28)


def make_model(arch: CnnArch, bits: BitConfig, images: torch.Tensor, seed: int = 0) -> QuantCNN:
    """A model whose BatchNorms are far from the identity, in eval mode.

    The running statistics are measured on ``images`` (one train-mode pass with cumulative
    averaging), and the affine parameters are random with mixed signs, so activations spread
    over the whole quantizer range and negative BatchNorm gains are covered.
    """
    torch.manual_seed(seed)
    model = build_cnn(arch, bits)
    gen = torch.Generator().manual_seed(seed + 1)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            n = module.num_features
            module.momentum = None  # cumulative average over the calibration pass
            module.reset_running_stats()
            module.weight.data = torch.randn(n, generator=gen) * 0.8  # mixed-sign gains
            module.bias.data = torch.randn(n, generator=gen) * 0.5 + 0.3
    model.train()
    with torch.no_grad():
        model(images)
    return model.eval()
