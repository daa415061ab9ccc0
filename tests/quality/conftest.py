"""Real test images for the quality tests (skipped, with the fix, when a dataset is missing)."""

from __future__ import annotations

import pytest
import torch

from codesign.data import load_dataset
from codesign.errors import DatasetMissingError

N_REAL = 256


def _load(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        return load_dataset(name, "test").tensors()
    except DatasetMissingError as err:
        pytest.skip(str(err))


@pytest.fixture(scope="session")
def fmnist_test() -> tuple[torch.Tensor, torch.Tensor]:
    """The first 256 Fashion-MNIST test images (256, 1, 28, 28) in [0, 1] and labels (256,)."""
    images, labels = _load("fashion_mnist")
    return images[:N_REAL], labels[:N_REAL]


@pytest.fixture(scope="session")
def fmnist_images(fmnist_test: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    return fmnist_test[0]


@pytest.fixture(scope="session")
def digits_images() -> torch.Tensor:
    """The 360 sklearn-digits test images, (360, 1, 8, 8) in [0, 1]."""
    return _load("digits")[0]
