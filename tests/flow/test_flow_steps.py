"""Step helpers: seeded data subsets and the data/architecture cross-check."""

from __future__ import annotations

import pytest
import torch

from codesign.data import load_dataset
from codesign.data.splits import load_split
from codesign.errors import ConfigError, DatasetMissingError
from codesign.flow.steps import STEPS, check_data_fits
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


def test_every_artifact_a_registered_step_reads_has_one_writer() -> None:
    writers: dict[str, list[str]] = {}
    for step in STEPS.values():
        for art in step.writes:
            writers.setdefault(art, []).append(step.name)
    # Alternatives that replace each other in a flow (order_steps rejects both in one flow):
    # a DQMQ tier frozen in place of training, the feedback round on the flow's own tiers.
    alternatives = {
        "checkpoint": ["train", "freeze_tier"],
        "cost_model": ["feedback", "feedback_tiers"],
    }
    for art, names in writers.items():
        assert len(names) == 1 or sorted(names) == sorted(alternatives.get(art, [])), (art, names)
    for step in STEPS.values():
        assert set(step.reads) <= set(writers), (step.name, step.reads)
        assert not set(step.reads) & set(step.writes), step.name


def test_quickstart_steps_order_by_artifacts() -> None:
    from codesign.flow.core import order_steps, producers

    names = ["train", "evaluate", "export", "compile", "simulate", "synth"]
    steps = order_steps([STEPS[n] for n in reversed(names)])
    order = [s.name for s in steps]
    assert order.index("train") < order.index("export") < order.index("compile")
    assert order.index("compile") < order.index("simulate") < order.index("synth")
    inputs = producers(steps)
    assert inputs["export"] == ("train",) and inputs["evaluate"] == ("train",)
    assert set(inputs["simulate"]) == {"train", "compile"}
    assert "simulate" in inputs["synth"]  # synth reads the design FIFO sizing made
