"""Image corruptions at five severities, modelled on ImageNet-C / MNIST-C and tuned for 28x28.

Every corruption maps a batch of grayscale (or any-channel) float images in [0, 1], shape
``(B, C, H, W)``, to a corrupted batch of the same shape, dtype and device, clamped to
[0, 1]. Randomness comes only from the :class:`torch.Generator` (or integer seed) passed in,
never from the global RNG, so the same seed gives the same output.

The parameter of each corruption at severity ``s`` is ``SEVERITY_PARAMS[name][s - 1]``; the
table is data, with units stated per corruption below. Hendrycks & Dietterich's ImageNet-C
values were scaled down where they assume 224x224 images (blur radii, pixelation factors)
and kept where they are per-pixel (noise levels, JPEG quality, contrast factors). Blur radii
and pixelation are in pixels of a 28x28 image: on 8x8 images (sklearn digits) severities
above 2 of the blurs and pixelation leave little of the content.

Random draws are made for the whole batch at once, so an image corrupted alone and the
same image corrupted inside a batch get different (equally distributed) noise; the same
batch with the same seed always gets the same noise.

Example:
    >>> import torch
    >>> x = torch.rand(4, 1, 28, 28)
    >>> y = corrupt(x, "gaussian_noise", 3, torch.Generator().manual_seed(0))
    >>> y.shape
    torch.Size([4, 1, 28, 28])
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from codesign.errors import ConfigError
from codesign.quality.names import CLEAN as CLEAN
from codesign.quality.names import MAX_SEVERITY, MIN_SEVERITY, Corruption
from codesign.quality.names import SEVERITIES as SEVERITIES

log = logging.getLogger(__name__)

# Parameter per severity 1..5. Units:
#   gaussian_noise    standard deviation of additive N(0, s^2) noise, in [0, 1] pixel units
#   shot_noise        photons per unit intensity (lambda); fewer photons = more noise
#   impulse_noise     fraction of pixels replaced by 0 or 1 (salt and pepper, half each)
#   gaussian_blur     kernel standard deviation in pixels
#   defocus_blur      disk radius in pixels
#   motion_blur       streak length in pixels (direction drawn per image)
#   jpeg_compression  PIL/libjpeg quality (1..95)
#   contrast          factor on the deviation from the per-image mean
#   brightness        additive intensity shift
#   pixelate          down-sampling factor (side of the low-resolution image / side)
SEVERITY_PARAMS: Mapping[Corruption, tuple[float, ...]] = MappingProxyType(
    {
        Corruption.GAUSSIAN_NOISE: (0.04, 0.08, 0.12, 0.18, 0.26),
        Corruption.SHOT_NOISE: (60.0, 25.0, 12.0, 5.0, 3.0),
        Corruption.IMPULSE_NOISE: (0.03, 0.06, 0.09, 0.17, 0.27),
        Corruption.GAUSSIAN_BLUR: (0.5, 0.75, 1.0, 1.5, 2.0),
        Corruption.DEFOCUS_BLUR: (1.0, 1.5, 2.0, 2.5, 3.0),
        Corruption.MOTION_BLUR: (3.0, 5.0, 7.0, 9.0, 11.0),
        Corruption.JPEG_COMPRESSION: (50.0, 30.0, 18.0, 10.0, 5.0),
        Corruption.CONTRAST: (0.6, 0.45, 0.3, 0.2, 0.1),
        Corruption.BRIGHTNESS: (0.1, 0.2, 0.3, 0.4, 0.5),
        Corruption.PIXELATE: (0.6, 0.5, 0.4, 0.3, 0.25),
    }
)


def parse_corruption(name: str | Corruption) -> Corruption:
    """Return the :class:`Corruption` called ``name``.

    Raises:
        ConfigError: ``name`` is not a corruption; the message lists the allowed names.
    """
    try:
        return Corruption(name)
    except ValueError:
        allowed = ", ".join(c.value for c in Corruption)
        raise ConfigError(f"unknown corruption {name!r}; allowed: {allowed}") from None


def check_severity(severity: int) -> int:
    """Return ``severity`` if it is an integer in 1..5.

    Raises:
        ConfigError: out of range or not an integer; the message gives the allowed values.
    """
    if (
        isinstance(severity, bool)
        or not isinstance(severity, int | np.integer)
        or not MIN_SEVERITY <= severity <= MAX_SEVERITY
    ):
        raise ConfigError(
            f"corruption severity must be an integer in {MIN_SEVERITY}..{MAX_SEVERITY}, "
            f"got {severity!r}"
        )
    return int(severity)


def make_generator(seed_or_generator: int | torch.Generator) -> torch.Generator:
    """Return ``seed_or_generator`` itself, or a new CPU generator seeded with the integer."""
    if isinstance(seed_or_generator, torch.Generator):
        return seed_or_generator
    return torch.Generator().manual_seed(int(seed_or_generator))


def corrupt(
    images: torch.Tensor,
    name: str | Corruption,
    severity: int,
    generator: int | torch.Generator,
) -> torch.Tensor:
    """Apply corruption ``name`` at ``severity`` to a batch of images.

    Args:
        images: Float images in [0, 1], shape ``(B, C, H, W)``.
        name: A :class:`Corruption` or its string value.
        severity: 1 (mild) .. 5 (strong).
        generator: The random source (a generator is advanced; an int seeds a fresh one).
            Deterministic corruptions (blurs, JPEG, contrast, brightness, pixelate) ignore it.

    Returns:
        The corrupted batch, same shape, dtype and device, clamped to [0, 1].

    Raises:
        ConfigError: Unknown ``name`` or ``severity`` outside 1..5.
        ValueError: ``images`` is not a 4-D floating-point tensor.
    """
    corruption = parse_corruption(name)
    severity = check_severity(severity)
    _check_images(images)
    param = SEVERITY_PARAMS[corruption][severity - 1]
    gen = make_generator(generator)
    if images.shape[0] == 0:
        return images.clone()
    out = _FUNCTIONS[corruption](images, param, gen)
    return out.clamp_(0.0, 1.0).to(images.dtype)


def _check_images(images: torch.Tensor) -> None:
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images)
        raise ValueError(f"images must be a (B, C, H, W) tensor, got {shape}")
    if not images.is_floating_point():
        raise ValueError(f"images must be floating point in [0, 1], got {images.dtype}")


def _rand(like: torch.Tensor, gen: torch.Generator, kind: str = "uniform") -> torch.Tensor:
    """Random tensor shaped like ``like``, drawn on the generator's device, moved to ``like``'s."""
    draw = torch.rand if kind == "uniform" else torch.randn
    out = draw(like.shape, generator=gen, device=gen.device, dtype=torch.float32)
    return out.to(like.device)


# --- noise ---------------------------------------------------------------------------------


def _gaussian_noise(x: torch.Tensor, sigma: float, gen: torch.Generator) -> torch.Tensor:
    return x + sigma * _rand(x, gen, "normal")  # (B, C, H, W)


def _shot_noise(x: torch.Tensor, photons: float, gen: torch.Generator) -> torch.Tensor:
    rate = (x.clamp(0.0, 1.0) * photons).to(device=gen.device, dtype=torch.float32)
    counts = torch.poisson(rate, generator=gen)  # (B, C, H, W)
    return (counts / photons).to(x.device)


def _impulse_noise(x: torch.Tensor, amount: float, gen: torch.Generator) -> torch.Tensor:
    hit = _rand(x, gen) < amount  # (B, C, H, W) bool
    salt = _rand(x, gen) < 0.5
    return torch.where(hit, salt.to(x.dtype), x)


# --- blur ----------------------------------------------------------------------------------


def _conv_same(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Convolve every channel of ``x`` (B, C, H, W) with ``kernel`` (kh, kw), replicate pad."""
    b, c, h, w = x.shape
    kh, kw = kernel.shape
    # Every image is its own channel of a depthwise (grouped) convolution: on CPU this is
    # about 3x faster than a one-channel convolution over a batch of B*C images.
    flat = x.reshape(1, b * c, h, w)
    padded = F.pad(flat, (kw // 2, kw // 2, kh // 2, kh // 2), mode="replicate")
    weight = kernel.to(x).expand(b * c, 1, kh, kw).contiguous()
    out = F.conv2d(padded, weight, groups=b * c)  # (1, B*C, H, W)
    return out.reshape(b, c, h, w)


def _gaussian_blur(x: torch.Tensor, sigma: float, gen: torch.Generator) -> torch.Tensor:
    radius = max(1, math.ceil(3.0 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    g = torch.exp(-0.5 * (t / sigma) ** 2)
    g = g / g.sum()
    x = _conv_same(x, g[None, :])  # rows
    return _conv_same(x, g[:, None])  # columns


def disk_kernel(radius: float) -> torch.Tensor:
    """A normalized disk (defocus) kernel of the given radius in pixels, shape (k, k)."""
    r = math.ceil(radius)
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    k = ((xx**2 + yy**2) <= radius**2 + 1e-6).float()
    return k / k.sum()


def _defocus_blur(x: torch.Tensor, radius: float, gen: torch.Generator) -> torch.Tensor:
    return _conv_same(x, disk_kernel(radius))


def motion_kernels(length: float, angles: torch.Tensor) -> torch.Tensor:
    """Anti-aliased line kernels: one per angle (radians), shape (N, k, k), each summing to 1.

    A pixel's weight is ``max(0, 1 - d)`` where ``d`` is its distance to the centred segment
    of the given length, so the streak stays one pixel wide at any angle.
    """
    r = math.ceil(length / 2)
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    yy, xx = torch.meshgrid(t, t, indexing="ij")  # (k, k)
    dx, dy = torch.cos(angles)[:, None, None], torch.sin(angles)[:, None, None]  # (N, 1, 1)
    along = (xx * dx + yy * dy).clamp(-length / 2, length / 2)  # (N, k, k)
    dist = torch.hypot(xx - along * dx, yy - along * dy)
    k = (1.0 - dist).clamp(min=0.0)
    return k / k.sum(dim=(1, 2), keepdim=True)


def _motion_blur(x: torch.Tensor, length: float, gen: torch.Generator) -> torch.Tensor:
    b, c, h, w = x.shape
    angles = torch.rand(b, generator=gen, device=gen.device) * math.pi  # (B,)
    kernels = motion_kernels(length, angles.cpu()).to(x)  # (B, k, k)
    k = kernels.shape[-1]
    # One kernel per image: fold the batch into channels and use a grouped convolution.
    flat = x.permute(1, 0, 2, 3)  # (C, B, H, W)
    padded = F.pad(flat, (k // 2, k // 2, k // 2, k // 2), mode="replicate")
    out = F.conv2d(padded, kernels[:, None], groups=b)  # (C, B, H, W)
    return out.permute(1, 0, 2, 3)


# --- compression, photometric, resolution --------------------------------------------------


def _jpeg_compression(x: torch.Tensor, quality: float, gen: torch.Generator) -> torch.Tensor:
    b, c, h, w = x.shape
    if c not in (1, 3):
        raise ValueError(f"jpeg_compression needs 1 or 3 channels, got {c}")
    # Round to uint8 like any image file would; JPEG is inherently per-image.
    pixels = (x.detach().clamp(0, 1) * 255.0).round().to(torch.uint8)
    pixels = pixels.permute(0, 2, 3, 1).cpu().numpy()  # (B, H, W, C)
    out = np.empty_like(pixels)
    for i in range(b):
        # A 2-D uint8 array becomes mode "L" and (H, W, 3) "RGB": no chroma subsampling
        # question arises for gray, and JPEG's 8x8 grid starts at the top-left pixel.
        img = Image.fromarray(pixels[i, :, :, 0] if c == 1 else pixels[i])
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=int(quality))
        with Image.open(io.BytesIO(buf.getvalue())) as decoded:
            out[i] = np.asarray(decoded).reshape(h, w, c)
    back = torch.from_numpy(out).permute(0, 3, 1, 2)  # (B, C, H, W)
    return back.to(device=x.device, dtype=x.dtype) / 255.0


def _contrast(x: torch.Tensor, factor: float, gen: torch.Generator) -> torch.Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    return (x - mean) * factor + mean


def _brightness(x: torch.Tensor, shift: float, gen: torch.Generator) -> torch.Tensor:
    return x + shift


def _pixelate(x: torch.Tensor, factor: float, gen: torch.Generator) -> torch.Tensor:
    h, w = x.shape[-2:]
    small = (max(1, round(h * factor)), max(1, round(w * factor)))
    low = F.interpolate(x, size=small, mode="area")  # (B, C, h', w')
    return F.interpolate(low, size=(h, w), mode="nearest")  # (B, C, H, W)


_FUNCTIONS: dict[Corruption, Callable[[torch.Tensor, float, torch.Generator], torch.Tensor]] = {
    Corruption.GAUSSIAN_NOISE: _gaussian_noise,
    Corruption.SHOT_NOISE: _shot_noise,
    Corruption.IMPULSE_NOISE: _impulse_noise,
    Corruption.GAUSSIAN_BLUR: _gaussian_blur,
    Corruption.DEFOCUS_BLUR: _defocus_blur,
    Corruption.MOTION_BLUR: _motion_blur,
    Corruption.JPEG_COMPRESSION: _jpeg_compression,
    Corruption.CONTRAST: _contrast,
    Corruption.BRIGHTNESS: _brightness,
    Corruption.PIXELATE: _pixelate,
}
