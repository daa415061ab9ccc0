"""Fixtures for the model tests: real Fashion-MNIST test images."""

from __future__ import annotations

import pytest
import torch

from codesign.data import Split, load_fashion_mnist
from codesign.errors import DatasetMissingError
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
