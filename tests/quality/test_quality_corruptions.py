import io

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from codesign.errors import ConfigError
from codesign.quality import SEVERITIES, SEVERITY_PARAMS, Corruption, corrupt
from codesign.quality.corruptions import disk_kernel, motion_kernels

RANDOM = {
    Corruption.GAUSSIAN_NOISE,
    Corruption.SHOT_NOISE,
    Corruption.IMPULSE_NOISE,
    Corruption.MOTION_BLUR,
}
ALL = list(Corruption)


def _batch(seed: int = 0, shape: tuple[int, ...] = (6, 1, 28, 28)) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


def test_every_corruption_has_five_severity_parameters_that_grow_in_effect():
    assert set(SEVERITY_PARAMS) == set(Corruption)
    for corruption, params in SEVERITY_PARAMS.items():
        assert len(params) == len(SEVERITIES) == 5, corruption
        # Parameters that shrink with severity: photons, JPEG quality, contrast factor, size.
        shrinking = {
            Corruption.SHOT_NOISE,
            Corruption.JPEG_COMPRESSION,
            Corruption.CONTRAST,
            Corruption.PIXELATE,
        }
        diffs = np.diff(params)
        assert (diffs < 0).all() if corruption in shrinking else (diffs > 0).all(), corruption


def test_names_are_strings_that_round_trip():
    assert Corruption("jpeg_compression") is Corruption.JPEG_COMPRESSION
    assert Corruption.GAUSSIAN_NOISE == "gaussian_noise"
    x = _batch()
    assert torch.equal(corrupt(x, "contrast", 2, 0), corrupt(x, Corruption.CONTRAST, 2, 0))


def test_unknown_name_lists_allowed_values():
    with pytest.raises(ConfigError) as err:
        corrupt(_batch(), "fog", 1, 0)
    msg = str(err.value)
    assert msg.startswith("unknown corruption 'fog'; allowed: gaussian_noise, shot_noise")
    assert all(c.value in msg for c in Corruption)


@pytest.mark.parametrize("severity", [0, 6, -1, 2.5, "3", True])
def test_severity_out_of_range_is_a_config_error(severity):
    with pytest.raises(ConfigError, match=r"severity must be an integer in 1\.\.5, got"):
        corrupt(_batch(), "gaussian_noise", severity, 0)


def test_numpy_integer_severity_is_accepted():
    x = _batch()
    assert torch.equal(corrupt(x, "brightness", np.int64(2), 0), corrupt(x, "brightness", 2, 0))


@pytest.mark.parametrize("bad", [torch.rand(1, 28, 28), torch.zeros(2, 1, 8, 8, dtype=torch.uint8)])
def test_bad_image_tensors_are_value_errors(bad):
    with pytest.raises(ValueError, match="images must be"):
        corrupt(bad, "contrast", 1, 0)


@pytest.mark.parametrize("corruption", ALL)
def test_deterministic_by_seed_and_generator(corruption):
    x = _batch()
    a = corrupt(x, corruption, 3, 123)
    b = corrupt(x, corruption, 3, torch.Generator().manual_seed(123))
    assert torch.equal(a, b)
    other = corrupt(x, corruption, 3, 124)
    assert torch.equal(a, other) != (corruption in RANDOM)


def test_global_rng_is_neither_used_nor_advanced():
    torch.manual_seed(0)
    before = torch.get_rng_state()
    corrupt(_batch(), "impulse_noise", 4, 7)
    corrupt(_batch(), "motion_blur", 4, 7)
    assert torch.equal(before, torch.get_rng_state())


def test_generator_is_advanced_so_successive_calls_differ():
    gen = torch.Generator().manual_seed(5)
    x = _batch()
    first = corrupt(x, "gaussian_noise", 2, gen)
    assert not torch.equal(first, corrupt(x, "gaussian_noise", 2, gen))


@pytest.mark.parametrize("corruption", ALL)
@pytest.mark.parametrize("severity", SEVERITIES)
def test_shape_dtype_range_and_change(corruption, severity, fmnist_images):
    x = fmnist_images[:16]
    y = corrupt(x, corruption, severity, 0)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    assert float((y - x).abs().mean()) > 1e-3  # every corruption visibly changes real images
    assert torch.equal(x, fmnist_images[:16])  # the input is not modified in place


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    corruption=st.sampled_from(ALL),
    severity=st.sampled_from(SEVERITIES),
    batch=st.integers(1, 3),
    height=st.integers(8, 33),
    width=st.integers(8, 33),
    low=st.floats(-0.5, 1.0),
    span=st.floats(0.0, 1.5),
    seed=st.integers(0, 2**31 - 1),
)
def test_property_shape_preserved_and_output_clamped(
    corruption, severity, batch, height, width, low, span, seed
):
    # Inputs even slightly outside [0, 1] come back inside it.
    gen = torch.Generator().manual_seed(seed)
    x = low + span * torch.rand(batch, 1, height, width, generator=gen)
    y = corrupt(x, corruption, severity, seed)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0


def test_gaussian_noise_has_the_tabled_sigma():
    x = torch.full((64, 1, 28, 28), 0.5)
    y = corrupt(x, "gaussian_noise", 3, 0)  # sigma 0.12: clamping at 0 / 1 is negligible
    sigma = SEVERITY_PARAMS[Corruption.GAUSSIAN_NOISE][2]
    assert float((y - x).std()) == pytest.approx(sigma, rel=0.02)
    assert float((y - x).mean()) == pytest.approx(0.0, abs=2e-3)


def test_shot_noise_is_poisson_counts_over_photons():
    photons = SEVERITY_PARAMS[Corruption.SHOT_NOISE][0]
    x = torch.full((32, 1, 28, 28), 0.25)
    y = corrupt(x, "shot_noise", 1, 0)
    counts = y * photons
    assert torch.allclose(counts, counts.round(), atol=1e-4)
    assert float(counts.mean()) == pytest.approx(0.25 * photons, rel=0.02)
    assert float(counts.var()) == pytest.approx(0.25 * photons, rel=0.05)  # Poisson: var == mean


def test_impulse_noise_sets_the_tabled_fraction_to_zero_or_one():
    amount = SEVERITY_PARAMS[Corruption.IMPULSE_NOISE][3]
    x = torch.full((64, 1, 28, 28), 0.5)
    y = corrupt(x, "impulse_noise", 4, 0)
    hit = y != 0.5
    assert set(torch.unique(y[hit]).tolist()) == {0.0, 1.0}
    assert float(hit.float().mean()) == pytest.approx(amount, rel=0.05)
    assert float((y[hit] == 1.0).float().mean()) == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize(
    "corruption", [Corruption.GAUSSIAN_BLUR, Corruption.DEFOCUS_BLUR, Corruption.MOTION_BLUR]
)
def test_blurs_keep_constant_images_and_smear_a_point(corruption):
    flat = torch.full((2, 1, 28, 28), 0.3)
    assert torch.allclose(corrupt(flat, corruption, 5, 0), flat, atol=1e-6)
    point = torch.zeros(2, 1, 28, 28)
    point[:, :, 14, 14] = 1.0
    y = corrupt(point, corruption, 3, 0)
    assert torch.allclose(y.sum(dim=(1, 2, 3)), torch.ones(2), atol=1e-5)  # energy kept
    assert float(y[:, 0, 14, 14].max()) < 0.5  # and spread out


def test_blur_kernels():
    assert disk_kernel(1.0).shape == (3, 3) and int((disk_kernel(1.0) > 0).sum()) == 5
    assert int((disk_kernel(1.5) > 0).sum()) == 9
    k = motion_kernels(7.0, torch.tensor([0.0, torch.pi / 2, 0.7]))
    assert torch.allclose(k.sum(dim=(1, 2)), torch.ones(3))
    assert int((k[0].sum(dim=1) > 1e-6).sum()) == 1  # horizontal streak: a single row
    assert int((k[1].sum(dim=0) > 1e-6).sum()) == 1  # vertical streak: a single column (cos
    # (pi/2) is 4e-8, not 0, in float32)
    assert int((k[0] > 0).sum()) == 9  # 7 pixels long, plus half-weight anti-aliased ends


def test_motion_blur_direction_varies_per_image():
    point = torch.zeros(8, 1, 28, 28)
    point[:, :, 14, 14] = 1.0
    y = corrupt(point, "motion_blur", 5, 3)
    assert len({tuple(torch.nonzero(img[0] > 0.02).flatten().tolist()) for img in y}) > 1


def test_jpeg_is_a_real_pil_round_trip(fmnist_images):
    x = fmnist_images[:4]
    y = corrupt(x, "jpeg_compression", 2, 0)
    quality = int(SEVERITY_PARAMS[Corruption.JPEG_COMPRESSION][1])
    for i in range(4):
        pixels = (x[i, 0] * 255).round().to(torch.uint8).numpy()
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, format="JPEG", quality=quality)
        expected = np.asarray(Image.open(io.BytesIO(buf.getvalue()))).astype(np.float32) / 255
        assert np.array_equal(y[i, 0].numpy(), expected)


def test_jpeg_rejects_two_channels():
    with pytest.raises(ValueError, match="1 or 3 channels"):
        corrupt(torch.rand(1, 2, 16, 16), "jpeg_compression", 1, 0)


def test_contrast_keeps_the_mean_and_scales_deviation():
    x = 0.25 + 0.5 * _batch()
    factor = SEVERITY_PARAMS[Corruption.CONTRAST][2]
    y = corrupt(x, "contrast", 3, 0)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    assert torch.allclose(y.mean(dim=(1, 2, 3), keepdim=True), mean, atol=1e-6)
    assert torch.allclose(y - mean, factor * (x - mean), atol=1e-6)


def test_brightness_adds_the_shift_then_clamps():
    x = torch.tensor([0.0, 0.3, 0.7, 1.0]).reshape(1, 1, 2, 2)
    y = corrupt(x, "brightness", 5, 0)  # +0.5
    assert torch.allclose(y.flatten(), torch.tensor([0.5, 0.8, 1.0, 1.0]))


def test_pixelate_makes_constant_blocks_of_the_low_resolution_size():
    x = _batch()
    y = corrupt(x, "pixelate", 2, 0)  # factor 0.5: 28 -> 14 -> 28, blocks of 2x2
    blocks = y.unfold(2, 2, 2).unfold(3, 2, 2)  # (B, 1, 14, 14, 2, 2)
    assert torch.allclose(blocks, blocks[..., :1, :1].expand_as(blocks))
    assert torch.allclose(blocks[..., 0, 0], torch.nn.functional.avg_pool2d(x, 2), atol=1e-6)


@pytest.mark.parametrize("corruption", ALL)
def test_works_on_8x8_digits(corruption, digits_images):
    x = digits_images[:32]
    assert x.shape[-2:] == (8, 8)
    for severity in SEVERITIES:
        y = corrupt(x, corruption, severity, 1)
        assert y.shape == x.shape and 0.0 <= float(y.min()) and float(y.max()) <= 1.0
    assert not torch.equal(corrupt(x, corruption, 5, 1), x)


@pytest.mark.parametrize("corruption", ALL)
def test_empty_batch_passes_through(corruption):
    assert corrupt(torch.zeros(0, 1, 28, 28), corruption, 5, 0).shape == (0, 1, 28, 28)
