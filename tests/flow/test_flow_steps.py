"""Step helpers: seeded data subsets and the data/architecture cross-check."""

from __future__ import annotations

import pytest
import torch

from codesign.data import load_dataset
from codesign.errors import ConfigError, DatasetMissingError
from codesign.flow.steps import STEPS, check_data_fits, load_split
from codesign.models.cnn import QUICKSTART_ARCH


@pytest.fixture(scope="module")
def digits_available() -> None:
    try:
        load_dataset("digits", "test")
    except DatasetMissingError as err:
        pytest.skip(str(err))


def test_subset_is_seeded_and_sized(digits_available: None) -> None:
    x1, y1 = load_split("digits", "train", 100, seed=0)
    x2, y2 = load_split("digits", "train", 100, seed=0)
    x3, _ = load_split("digits", "train", 100, seed=1)
    assert x1.shape == (100, 1, 8, 8) and x1.dtype == torch.float32 and y1.shape == (100,)
    assert 0.0 <= float(x1.min()) and float(x1.max()) <= 1.0
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(x1, x3)
    full, _ = load_split("digits", "test", 360, seed=0)
    assert full.shape[0] == 360


def test_subset_larger_than_split(digits_available: None) -> None:
    with pytest.raises(ConfigError) as err:
        load_split("digits", "test", 1000, seed=0)
    assert str(err.value) == (
        "data.n_test is 1000 but digits has 360 test images; set data.n_test <= 360"
    )


def test_image_size_must_fit_the_arch(digits_available: None) -> None:
    x, y = load_split("digits", "test", 50, seed=0)
    with pytest.raises(ConfigError, match=r"digits images are 1x8x8 .* set in_channels: 1 and"):
        check_data_fits(QUICKSTART_ARCH, x, y, "digits")


def test_registry_steps_read_earlier_steps() -> None:
    assert list(STEPS) == [
        "train", "evaluate", "export", "compile", "simulate", "synth",
        "train_dqmq", "tiers", "deploy_tiers",
    ]  # fmt: skip
    assert STEPS["tiers"].after == ("train_dqmq",) and STEPS["deploy_tiers"].after == ("tiers",)
    assert STEPS["evaluate"].after == ("train",) and STEPS["export"].after == ("train",)
    assert STEPS["train"].sections == ("data", "model", "train")
    assert STEPS["compile"].after == ("export",)
    assert STEPS["simulate"].after == ("train", "compile")
    assert STEPS["synth"].after == ("simulate",)  # FIFO sizing rewrites what synth reads
