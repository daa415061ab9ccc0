"""No-reference image quality measures, batched in torch, and the normalized feature vector.

Every measure takes float images in [0, 1], shape ``(B, C, H, W)`` (channels are averaged
to gray first), and returns one value per image, shape ``(B,)``. Each image is measured on
its own, so an image's value does not depend on the rest of the batch.

:func:`quality_features` stacks the measures into a ``(B, F)`` vector, ordered as
:data:`FEATURE_NAMES`, with a *fixed* per-feature scaling (:data:`FEATURE_SCALING`) so that
every entry is O(1) on 28x28 data: ``feature = (g(raw) - offset) / scale`` where ``g`` is
the identity or ``log10``. The constants are data, chosen from clean and corrupted
Fashion-MNIST test images, and are never fitted to the batch at hand.

Example:
    >>> import torch
    >>> quality_features(torch.rand(2, 1, 28, 28)).shape
    torch.Size([2, 6])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import torch

JPEG_BLOCK = 8
HF_CUTOFF = 0.25  # fraction of the Nyquist radius above which spectral energy counts as "high"
_EPS = 1e-3  # in gradient units: makes the blockiness of a flat image 1, not 0/0


def _gray(images: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, 1, H, W) float32, averaging channels."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images)
        raise ValueError(f"images must be a (B, C, H, W) tensor, got {shape}")
    if min(images.shape[-2:]) < 3:
        raise ValueError(f"images must be at least 3x3, got {tuple(images.shape[-2:])}")
    gray = images.float()
    return gray if gray.shape[1] == 1 else gray.mean(dim=1, keepdim=True)


# The 3x3 filters below are written as shifted slices: on one-channel images this is
# several times faster than F.conv2d on CPU. Both are "valid" (no padding), so the image
# border adds no false edges; outputs are (B, 1, H-2, W-2).


def _immerkaer(gray: torch.Tensor) -> torch.Tensor:
    """Immerkaer's kernel [[1,-2,1],[-2,4,-2],[1,-2,1]]: the outer product of [1,-2,1]."""
    d = gray[..., :, :-2] - 2.0 * gray[..., :, 1:-1] + gray[..., :, 2:]  # (B, 1, H, W-2)
    return d[..., :-2, :] - 2.0 * d[..., 1:-1, :] + d[..., 2:, :]  # (B, 1, H-2, W-2)


def _laplacian(gray: torch.Tensor) -> torch.Tensor:
    """The 4-neighbour Laplacian [[0,1,0],[1,-4,1],[0,1,0]]."""
    centre = gray[..., 1:-1, 1:-1]
    return (
        gray[..., :-2, 1:-1]
        + gray[..., 2:, 1:-1]
        + gray[..., 1:-1, :-2]
        + gray[..., 1:-1, 2:]
        - 4.0 * centre
    )  # (B, 1, H-2, W-2)


def _noise_sigma(gray: torch.Tensor) -> torch.Tensor:
    # The kernel's taps square-sum to 36, so white noise of std s gives a response of std
    # 6 s, and E|N(0, v)| = sqrt(2 v / pi).
    return math.sqrt(math.pi / 2.0) / 6.0 * _immerkaer(gray).abs().mean(dim=(1, 2, 3))


def _sharpness(gray: torch.Tensor) -> torch.Tensor:
    return _laplacian(gray).var(dim=(1, 2, 3), unbiased=False)


def _blockiness(gray: torch.Tensor, block: int = JPEG_BLOCK) -> torch.Tensor:
    dh = (gray[..., :, 1:] - gray[..., :, :-1]).abs()  # (B, 1, H, W-1)
    dv = (gray[..., 1:, :] - gray[..., :-1, :]).abs()  # (B, 1, H-1, W)
    col_edge = (torch.arange(1, gray.shape[-1], device=gray.device) % block) == 0  # (W-1,)
    row_edge = (torch.arange(1, gray.shape[-2], device=gray.device) % block) == 0  # (H-1,)
    n_b = int(col_edge.sum()) * dh.shape[-2] + int(row_edge.sum()) * dv.shape[-1]
    if n_b == 0:
        return torch.ones(gray.shape[0], device=gray.device)
    n_i = int((~col_edge).sum()) * dh.shape[-2] + int((~row_edge).sum()) * dv.shape[-1]
    col_sum = dh.sum(dim=(1, 2))  # (B, W-1): per column of differences
    row_sum = dv.sum(dim=(1, 3))  # (B, H-1): per row of differences
    bsum = col_sum[:, col_edge].sum(dim=1) + row_sum[:, row_edge].sum(dim=1)
    isum = col_sum[:, ~col_edge].sum(dim=1) + row_sum[:, ~row_edge].sum(dim=1)
    return (bsum / n_b + _EPS) / (isum / n_i + _EPS)


def _rms_contrast(gray: torch.Tensor) -> torch.Tensor:
    return gray.std(dim=(1, 2, 3), unbiased=False)


def _mean_brightness(gray: torch.Tensor) -> torch.Tensor:
    return gray.mean(dim=(1, 2, 3))


def _hf_energy_ratio(gray: torch.Tensor, cutoff: float = HF_CUTOFF) -> torch.Tensor:
    gray = gray - gray.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.rfft2(gray).abs().square()  # (B, 1, H, W//2+1)
    h, w = gray.shape[-2:]
    fy = torch.fft.fftfreq(h, device=gray.device).abs() * 2.0  # (H,), Nyquist -> 1
    fx = torch.fft.rfftfreq(w, device=gray.device) * 2.0  # (W//2+1,)
    radius = torch.hypot(fy[:, None], fx[None, :])  # (H, W//2+1)
    # rfft2 keeps the non-redundant half; columns other than DC (and Nyquist for even W)
    # stand for two conjugate bins, so they count twice in the full spectrum.
    weight = torch.full_like(radius, 2.0)
    weight[:, 0] = 1.0
    if w % 2 == 0:
        weight[:, -1] = 1.0
    total = (power * weight).sum(dim=(1, 2, 3))  # (B,)
    high = (power * (weight * (radius > cutoff))).sum(dim=(1, 2, 3))  # (B,)
    # Parseval: total = (H W)^2 var. Below a pixel std of 1e-5 (far under one 8-bit step) the
    # image is constant up to rounding, and the ratio of rounding noise would be meaningless.
    flat = total <= (h * w) ** 2 * 1e-10
    return torch.where(flat, torch.zeros_like(total), high / total.clamp(min=1e-30))


def noise_sigma(images: torch.Tensor) -> torch.Tensor:
    """Noise standard deviation by Immerkaer's fast estimator (CVIU 64(2), 1996).

    ``sigma = sqrt(pi / 2) / (6 (H - 2) (W - 2)) * sum |I * N|`` with ``N`` the 3x3
    difference-of-Laplacians kernel. Edges in clean images give a small positive floor.

    Args:
        images: ``(B, C, H, W)`` in [0, 1], at least 3x3.

    Returns:
        ``(B,)`` estimated sigma in intensity units.
    """
    return _noise_sigma(_gray(images))


def sharpness(images: torch.Tensor) -> torch.Tensor:
    """Variance of the Laplacian (Pech-Pacheco et al. 2000); falls as an image blurs.

    Returns:
        ``(B,)`` variance of the 4-neighbour Laplacian response over the interior.
    """
    return _sharpness(_gray(images))


def blockiness(images: torch.Tensor, block: int = JPEG_BLOCK) -> torch.Tensor:
    """JPEG blockiness: mean absolute gradient across 8x8 block boundaries over the interior one.

    Neighbour differences are taken along rows and columns; the difference between pixels
    ``j`` and ``j + 1`` straddles a block boundary when ``(j + 1) % block == 0`` (JPEG's
    grid starts at the top-left corner). A clean image scores about 1; blocking artefacts
    push it above 1. Images with no boundary inside (side <= ``block``) score exactly 1.

    Returns:
        ``(B,)`` ratio ``(boundary + eps) / (interior + eps)``, eps = 1e-3.
    """
    return _blockiness(_gray(images), block)


def rms_contrast(images: torch.Tensor) -> torch.Tensor:
    """RMS contrast: the standard deviation of the intensities. Returns ``(B,)``."""
    return _rms_contrast(_gray(images))


def mean_brightness(images: torch.Tensor) -> torch.Tensor:
    """Mean intensity. Returns ``(B,)``."""
    return _mean_brightness(_gray(images))


def hf_energy_ratio(images: torch.Tensor, cutoff: float = HF_CUTOFF) -> torch.Tensor:
    """Share of the (non-DC) spectral energy above ``cutoff`` times the Nyquist radius.

    The image minus its mean is Fourier transformed; frequencies are normalized so that
    Nyquist is 1 on both axes, which makes the measure independent of the image size.

    Returns:
        ``(B,)`` in [0, 1]; 0 for a constant image.
    """
    return _hf_energy_ratio(_gray(images), cutoff)


@dataclass(frozen=True)
class FeatureScaling:
    """``feature = (g(raw) - offset) / scale`` with ``g`` = identity or ``log10(raw + floor)``."""

    offset: float
    scale: float
    log_floor: float | None = None

    def apply(self, raw: torch.Tensor) -> torch.Tensor:
        """Scale a raw measure to its feature value."""
        if self.log_floor is not None:
            raw = torch.log10(raw + self.log_floor)
        return (raw - self.offset) / self.scale


# name -> measure on a (B, 1, H, W) float32 gray batch; the public functions above wrap these.
_GRAY_MEASURES: Mapping[str, Callable[[torch.Tensor], torch.Tensor]] = MappingProxyType(
    {
        "noise_sigma": _noise_sigma,
        "sharpness": _sharpness,
        "blockiness": _blockiness,
        "rms_contrast": _rms_contrast,
        "brightness": _mean_brightness,
        "hf_energy_ratio": _hf_energy_ratio,
    }
)
MEASURES: Mapping[str, Callable[[torch.Tensor], torch.Tensor]] = MappingProxyType(
    {
        "noise_sigma": noise_sigma,
        "sharpness": sharpness,
        "blockiness": blockiness,
        "rms_contrast": rms_contrast,
        "brightness": mean_brightness,
        "hf_energy_ratio": hf_energy_ratio,
    }
)
FEATURE_NAMES: tuple[str, ...] = tuple(MEASURES)

# Fixed constants (see module docstring), chosen from the means over Fashion-MNIST test
# images, clean and under every corruption at severities 1..5 (raw -> feature):
#   noise_sigma      0.03 clean, ~0 (blur) .. 0.29 (impulse)            -> 0.3 clean, 0 .. 2.9
#   sharpness        0.18 clean, 0.0008 (blur) .. 2.1 (impulse), log10  -> 0.7 clean, -1.6 .. 1.8
#   blockiness       1.0 clean, 1.16 .. 1.94 (JPEG), log2               -> 0 clean, 0.2 .. 1.0;
#                    pixelation's own block edges reach 0.04 .. 7.7    -> -4.7 .. 2.9
#   rms_contrast     0.32 clean, 0.03 (contrast) .. 0.40                -> 1.3 clean, 0.1 .. 1.6
#   brightness       0.29 clean, 0.25 .. 0.70 (brightness)              -> -0.8 clean, -1 .. 0.8
#   hf_energy_ratio  0.27 clean, 0.017 (blur) .. 0.71 (impulse)         -> 1.1 clean, 0.07 .. 2.8
FEATURE_SCALING: Mapping[str, FeatureScaling] = MappingProxyType(
    {
        "noise_sigma": FeatureScaling(offset=0.0, scale=0.1),
        "sharpness": FeatureScaling(offset=-1.5, scale=1.0, log_floor=1e-4),
        "blockiness": FeatureScaling(offset=0.0, scale=math.log10(2.0), log_floor=1e-2),
        "rms_contrast": FeatureScaling(offset=0.0, scale=0.25),
        "brightness": FeatureScaling(offset=0.5, scale=0.25),
        "hf_energy_ratio": FeatureScaling(offset=0.0, scale=0.25),
    }
)


def raw_measures(images: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """All measures, unscaled, as ``(B, F)`` in :data:`FEATURE_NAMES` order.

    Args:
        images: ``(B, C, H, W)`` float in [0, 1].
        chunk: Images per step, bounding the FFT's working memory.
    """
    gray = _gray(images)  # (B, 1, H, W)
    parts = []
    with torch.no_grad():
        for start in range(0, gray.shape[0], chunk):
            part = gray[start : start + chunk]
            parts.append(torch.stack([fn(part) for fn in _GRAY_MEASURES.values()], dim=1))
    if not parts:
        return torch.zeros(0, len(FEATURE_NAMES))
    return torch.cat(parts)


def normalize_features(raw: torch.Tensor) -> torch.Tensor:
    """Apply :data:`FEATURE_SCALING` column by column to ``raw`` (B, F)."""
    cols = [FEATURE_SCALING[name].apply(raw[:, i]) for i, name in enumerate(FEATURE_NAMES)]
    return torch.stack(cols, dim=1)  # (B, F)


def quality_features(images: torch.Tensor) -> torch.Tensor:
    """The normalized quality feature vector of each image, ``(B, F)``, F = len(FEATURE_NAMES).

    Batch-independent: ``quality_features(x)[i]`` equals ``quality_features(x[i:i+1])[0]``.
    """
    return normalize_features(raw_measures(images))
