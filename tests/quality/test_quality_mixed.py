import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from codesign.errors import ConfigError
from codesign.quality import (
    CONDITION_IDS,
    Corruption,
    MixedQualityDataset,
    QualitySample,
    condition_name,
    corrupt,
    mix_quality,
)
from codesign.quality.mixed import allocate_counts, validate_ratios

RATIOS = {"clean": 0.5, "gaussian_noise": 0.25, "jpeg_compression": 0.125, "contrast": 0.125}


def test_condition_ids_put_clean_first_then_corruptions_in_order():
    assert CONDITION_IDS["clean"] == 0
    assert [CONDITION_IDS[c.value] for c in Corruption] == list(range(1, 11))
    assert condition_name(0) == "clean" and condition_name(7) == "jpeg_compression"


def test_mix_has_exact_counts_labels_and_severities(fmnist_test):
    images, labels = fmnist_test
    ds = MixedQualityDataset(images, labels, RATIOS, severities={2, 4}, seed=0)
    assert len(ds) == 256
    counts = {name: int((ds.corruption_ids == cid).sum()) for name, cid in CONDITION_IDS.items()}
    assert counts["clean"] == 128 and counts["gaussian_noise"] == 64
    assert counts["jpeg_compression"] == 32 and counts["contrast"] == 32
    assert sum(counts.values()) == 256
    clean = ds.corruption_ids == 0
    assert (ds.severities[clean] == 0).all()
    assert set(ds.severities[~clean].tolist()) == {2, 4}
    assert torch.equal(ds.labels, labels)  # class labels stay with their images
    assert torch.equal(ds.images[clean], images[clean])  # clean samples untouched
    changed = (ds.images - images).abs().flatten(1).amax(dim=1) > 0
    assert changed[~clean].all()
    # The assignment is shuffled, not "first half clean".
    assert 0 < int(clean[:128].sum()) < 128


def test_corrupted_samples_are_what_corrupt_gives(fmnist_test):
    images, labels = fmnist_test
    ds = MixedQualityDataset(images, labels, {"clean": 0.5, "contrast": 0.5}, range(1, 6), seed=3)
    idx = torch.nonzero(ds.corruption_ids == CONDITION_IDS["contrast"]).squeeze(1)
    for i in idx[:10].tolist():  # contrast is deterministic, so sample by sample must agree
        expected = corrupt(images[i : i + 1], "contrast", int(ds.severities[i]), 0)[0]
        assert torch.allclose(ds.images[i], expected, atol=1e-6)


def test_deterministic_by_seed(fmnist_test):
    images, labels = fmnist_test[0][:64], fmnist_test[1][:64]
    a = mix_quality(images, labels, RATIOS, seed=7)
    b = mix_quality(images, labels, RATIOS, seed=7)
    c = mix_quality(images, labels, RATIOS, seed=8)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a[2], c[2]) and not torch.equal(a[0], c[0])


def test_items_and_dataloader_batches(fmnist_test):
    images, labels = fmnist_test
    ds = MixedQualityDataset(images[:32], labels[:32], {"clean": 0.5, "impulse_noise": 0.5}, seed=1)
    item = ds[3]
    assert isinstance(item, QualitySample)
    assert item.image.shape == (1, 28, 28) and item.label.ndim == 0
    batch = next(iter(DataLoader(ds, batch_size=8)))
    assert isinstance(batch, QualitySample)
    assert batch.image.shape == (8, 1, 28, 28)
    assert torch.equal(batch.corruption_id, ds.corruption_ids[:8])
    assert torch.equal(batch.severity, ds.severities[:8])


def test_ratio_tolerance_and_zero_fractions():
    images, labels = torch.rand(10, 1, 8, 8), torch.arange(10)
    ratios = {"clean": 1 / 3, "brightness": 2 / 3, "contrast": 0.0}  # sums to 1 within 1e-6
    _, _, ids, _ = mix_quality(images, labels, ratios, seed=0)
    assert int((ids == CONDITION_IDS["contrast"]).sum()) == 0
    assert int((ids == 0).sum()) == 3 and int((ids == CONDITION_IDS["brightness"]).sum()) == 7


@pytest.mark.parametrize(
    ("ratios", "message"),
    [
        ({}, "mixing ratios are empty; give fractions for some of: clean, gaussian_noise"),
        ({"clean": 0.5, "fog": 0.5}, "unknown condition 'fog' in mixing ratios; allowed: clean,"),
        ({"clean": 1.5, "contrast": -0.5}, "mixing ratio for 'contrast' must be >= 0, got -0.5"),
        ({"clean": float("nan")}, "mixing ratio for 'clean' must be >= 0, got nan"),
        ({"clean": "half"}, "mixing ratio for 'clean' must be a number, got 'half'"),
        ({"clean": 0.5, "contrast": 0.4}, "mixing ratios must sum to 1, got 0.9"),
    ],
)
def test_bad_ratios_are_config_errors(ratios, message):
    with pytest.raises(ConfigError) as err:
        validate_ratios(ratios)
    assert str(err.value).startswith(message)


@pytest.mark.parametrize(
    ("severities", "message"),
    [
        ([], "severities are empty; choose from [1, 2, 3, 4, 5]"),
        ([1, 6], "corruption severity must be an integer in 1..5, got 6"),
        (range(0, 3), "corruption severity must be an integer in 1..5, got 0"),
    ],
)
def test_bad_severities_are_config_errors(severities, message):
    with pytest.raises(ConfigError) as err:
        mix_quality(torch.rand(4, 1, 8, 8), torch.arange(4), {"clean": 1.0}, severities)
    assert str(err.value) == message


def test_enum_keys_are_accepted():
    assert validate_ratios({Corruption.CONTRAST: 1.0}) == {"contrast": 1.0}


def test_length_mismatch_is_a_value_error():
    with pytest.raises(ValueError, match="4 images but 3 labels"):
        mix_quality(torch.rand(4, 1, 8, 8), torch.arange(3), {"clean": 1.0})


@settings(max_examples=60, deadline=None)
@given(
    weights=st.lists(st.integers(0, 20), min_size=1, max_size=11).filter(lambda w: sum(w) > 0),
    n=st.integers(0, 500),
)
def test_property_counts_sum_to_n_and_stay_within_one_of_exact(weights, n):
    names = list(CONDITION_IDS)[: len(weights)]
    ratios = {name: w / sum(weights) for name, w in zip(names, weights, strict=False)}
    counts = allocate_counts(ratios, n)
    assert sum(counts.values()) == n
    for name, frac in ratios.items():
        assert abs(counts[name] - frac * n) < 1.0
