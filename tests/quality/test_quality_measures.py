import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from codesign.quality import (
    FEATURE_NAMES,
    FEATURE_SCALING,
    blockiness,
    hf_energy_ratio,
    mean_brightness,
    noise_sigma,
    normalize_features,
    quality_features,
    raw_measures,
    rms_contrast,
    sharpness,
)
from codesign.quality.measures import MEASURES


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_feature_names_match_the_measures_and_scaling():
    assert FEATURE_NAMES == (
        "noise_sigma",
        "sharpness",
        "blockiness",
        "rms_contrast",
        "brightness",
        "hf_energy_ratio",
    )
    assert tuple(MEASURES) == FEATURE_NAMES == tuple(FEATURE_SCALING)
    assert quality_features(torch.rand(3, 1, 28, 28)).shape == (3, len(FEATURE_NAMES))


def test_raw_measures_equal_the_public_functions():
    x = torch.rand(5, 1, 28, 28, generator=_gen())
    raw = raw_measures(x, chunk=2)  # chunking must not change anything
    for i, fn in enumerate(
        (noise_sigma, sharpness, blockiness, rms_contrast, mean_brightness, hf_energy_ratio)
    ):
        assert torch.allclose(raw[:, i], fn(x), rtol=1e-5, atol=1e-7), FEATURE_NAMES[i]


def test_features_are_batch_independent(fmnist_images):
    batch = fmnist_images[:16]
    together = quality_features(batch)
    alone = torch.cat([quality_features(batch[i : i + 1]) for i in range(16)])
    assert torch.allclose(together, alone, rtol=1e-5, atol=1e-5)
    # ... and independent of the company the image keeps.
    mixed = torch.cat([batch[:1], torch.rand(7, 1, 28, 28, generator=_gen())])
    assert torch.allclose(quality_features(mixed)[0], together[0], rtol=1e-5, atol=1e-5)


def test_normalization_is_the_documented_fixed_affine_or_log_map():
    raw = torch.tensor([[0.05, 0.01, 2.0, 0.2, 0.6, 0.3]])
    feat = normalize_features(raw)[0]
    assert feat[0] == pytest.approx(0.5)  # sigma / 0.1
    assert feat[1] == pytest.approx(math.log10(0.01 + 1e-4) + 1.5)  # log10 var + 1.5
    assert feat[2] == pytest.approx(math.log2(2.0 + 1e-2), rel=1e-5)  # ~log2 ratio
    assert feat[3] == pytest.approx(0.8)
    assert feat[4] == pytest.approx(0.4)
    assert feat[5] == pytest.approx(1.2)


def test_clean_fashion_mnist_features_are_order_one(fmnist_images):
    feat = quality_features(fmnist_images)
    assert torch.isfinite(feat).all()
    assert float(feat.mean(dim=0).abs().max()) < 2.0


def test_noise_sigma_recovers_added_gaussian_noise():
    flat = torch.full((16, 1, 64, 64), 0.5)
    for sigma in (0.01, 0.05, 0.1):
        noisy = flat + sigma * torch.randn(flat.shape, generator=_gen(1))
        assert float(noise_sigma(noisy).mean()) == pytest.approx(sigma, rel=0.05)
    # A linear ramp is locally planar: Immerkaer's kernel cancels it exactly.
    ramp = torch.linspace(0, 1, 28).expand(1, 1, 28, 28)
    assert float(noise_sigma(ramp)) == pytest.approx(0.0, abs=1e-6)


def test_sharpness_is_laplacian_variance():
    assert float(sharpness(torch.full((1, 1, 16, 16), 0.7))) == pytest.approx(0.0, abs=1e-12)
    # A checkerboard's Laplacian is +-8 everywhere inside: variance 64 * 1/4 * 4 = 16 (values 0/1).
    checker = ((torch.arange(16)[:, None] + torch.arange(16)[None, :]) % 2).float()
    assert float(sharpness(checker[None, None])) == pytest.approx(16.0)


def test_blockiness_detects_8x8_block_structure():
    # Random 8x8 tiles plus fine texture: the gradient jumps only at the block grid.
    gen = _gen(2)
    tiles = torch.rand(4, 1, 4, 4, generator=gen).repeat_interleave(8, 2).repeat_interleave(8, 3)
    texture = 0.02 * torch.rand(4, 1, 32, 32, generator=gen)
    assert float(blockiness(tiles + texture).min()) > 5.0
    assert float(blockiness(texture).max()) < 1.5
    assert torch.equal(blockiness(torch.full((2, 1, 28, 28), 0.4)), torch.ones(2))  # flat: 1
    # With no block boundary inside the image the measure is neutral.
    assert torch.equal(blockiness(torch.rand(3, 1, 8, 8, generator=gen)), torch.ones(3))


def test_contrast_and_brightness():
    halves = torch.zeros(1, 1, 4, 4)
    halves[..., :2, :] = 1.0
    assert float(rms_contrast(halves)) == pytest.approx(0.5)
    assert float(mean_brightness(halves)) == pytest.approx(0.5)
    rgb = torch.stack([torch.zeros(4, 4), torch.ones(4, 4), torch.full((4, 4), 0.5)])[None]
    assert float(mean_brightness(rgb)) == pytest.approx(0.5)  # channels are averaged to gray


def test_hf_energy_ratio_separates_coarse_and_fine_patterns():
    n = torch.arange(28, dtype=torch.float32)
    coarse = 0.5 + 0.5 * torch.cos(2 * math.pi * 2 * n / 28)  # 2 cycles per image
    fine = ((n[:, None] + n[None, :]) % 2).float()  # Nyquist checkerboard
    assert float(hf_energy_ratio(coarse.expand(1, 1, 28, 28))) == pytest.approx(0.0, abs=1e-6)
    assert float(hf_energy_ratio(fine[None, None])) == pytest.approx(1.0, abs=1e-6)
    assert float(hf_energy_ratio(torch.full((1, 1, 28, 28), 0.3))) == 0.0
    # White noise spreads energy evenly: the share above a quarter of Nyquist is the
    # share of the frequency square outside that radius, 1 - pi/4 * 0.25^2.
    noise = torch.rand(64, 1, 28, 28, generator=_gen(3))
    assert float(hf_energy_ratio(noise).mean()) == pytest.approx(1 - math.pi / 4 * 0.0625, abs=0.02)


def test_hf_energy_ratio_handles_odd_sizes():
    noise = torch.rand(64, 1, 27, 27, generator=_gen(4))
    assert float(hf_energy_ratio(noise).mean()) == pytest.approx(1 - math.pi / 4 * 0.0625, abs=0.02)


def test_bad_inputs_are_value_errors():
    with pytest.raises(ValueError, match=r"images must be a \(B, C, H, W\) tensor"):
        quality_features(torch.rand(28, 28))
    with pytest.raises(ValueError, match="at least 3x3"):
        quality_features(torch.rand(1, 1, 2, 28))


def test_empty_batch_gives_empty_features():
    assert quality_features(torch.zeros(0, 1, 28, 28)).shape == (0, len(FEATURE_NAMES))


def test_works_on_8x8_digits(digits_images):
    feat = quality_features(digits_images)
    assert feat.shape == (digits_images.shape[0], len(FEATURE_NAMES))
    assert torch.isfinite(feat).all()


@settings(max_examples=40, deadline=None)
@given(
    batch=st.integers(1, 4),
    height=st.integers(3, 40),
    width=st.integers(3, 40),
    value=st.one_of(st.none(), st.floats(0.0, 1.0)),
    seed=st.integers(0, 2**31 - 1),
)
def test_property_features_finite_and_in_range(batch, height, width, value, seed):
    shape = (batch, 1, height, width)
    x = torch.rand(shape, generator=_gen(seed)) if value is None else torch.full(shape, value)
    raw = raw_measures(x)
    assert raw.shape == (batch, len(FEATURE_NAMES))
    assert torch.isfinite(quality_features(x)).all()
    sigma, sharp, block, contrast, bright, hf = raw.unbind(1)
    assert (sigma >= 0).all() and (sharp >= 0).all() and (block > 0).all()
    assert ((contrast >= 0) & (contrast <= 0.5 + 1e-6)).all()
    assert ((bright >= 0) & (bright <= 1 + 1e-6)).all()
    assert ((hf >= 0) & (hf <= 1 + 1e-6)).all()
