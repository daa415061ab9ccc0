"""Mixed-quality datasets: clean and corrupted samples in given proportions, fixed by a seed.

Each sample carries its class label, a corruption id (0 for clean, see
:data:`CONDITION_IDS`) and a severity (0 for clean, else 1..5), so a quality-aware model can be
trained and evaluated per condition.

Example:
    >>> import torch
    >>> images, labels = torch.rand(100, 1, 28, 28), torch.randint(0, 10, (100,))
    >>> ds = MixedQualityDataset(
    ...     images, labels, {"clean": 0.5, "gaussian_noise": 0.5}, severities=(1, 3), seed=0
    ... )
    >>> sample = ds[0]
    >>> sample.image.shape, int((ds.corruption_ids == 0).sum())
    (torch.Size([1, 28, 28]), 50)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import NamedTuple

import torch
from torch.utils.data import Dataset

from codesign.errors import ConfigError
from codesign.quality.corruptions import (
    CLEAN,
    SEVERITIES,
    Corruption,
    check_severity,
    corrupt,
)

log = logging.getLogger(__name__)

# Condition name -> id: clean is 0, corruptions follow in Corruption's declaration order.
CONDITION_IDS: Mapping[str, int] = MappingProxyType(
    {CLEAN: 0} | {c.value: i + 1 for i, c in enumerate(Corruption)}
)
CONDITION_NAMES: tuple[str, ...] = tuple(CONDITION_IDS)
RATIO_TOLERANCE = 1e-6


class QualitySample(NamedTuple):
    """One sample: the image ``(C, H, W)`` and its three labels (0-d int64 tensors)."""

    image: torch.Tensor
    label: torch.Tensor
    corruption_id: torch.Tensor
    severity: torch.Tensor


def condition_name(corruption_id: int) -> str:
    """The condition name ("clean" or a corruption) of a corruption id."""
    return CONDITION_NAMES[int(corruption_id)]


def validate_ratios(ratios: Mapping[str, float]) -> dict[str, float]:
    """Check a condition -> fraction mapping and return it with known names as keys.

    Raises:
        ConfigError: empty, an unknown name, a negative or non-finite fraction, or
            fractions that do not sum to 1 (within 1e-6).
    """
    if not ratios:
        raise ConfigError(f"mixing ratios are empty; give fractions for some of: {_allowed()}")
    clean: dict[str, float] = {}
    for name, value in ratios.items():
        key = str(name.value if isinstance(name, Corruption) else name)
        if key not in CONDITION_IDS:
            raise ConfigError(f"unknown condition {key!r} in mixing ratios; allowed: {_allowed()}")
        try:
            fraction = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"mixing ratio for {key!r} must be a number, got {value!r}") from None
        if not math.isfinite(fraction) or fraction < 0:
            raise ConfigError(f"mixing ratio for {key!r} must be >= 0, got {value!r}")
        clean[key] = fraction
    total = sum(clean.values())
    if abs(total - 1.0) > RATIO_TOLERANCE:
        raise ConfigError(f"mixing ratios must sum to 1, got {total:g} ({clean})")
    return clean


def validate_severities(severities: Iterable[int]) -> tuple[int, ...]:
    """Check a set or range of severities and return them sorted, without repeats.

    Raises:
        ConfigError: empty, or a value outside 1..5.
    """
    values = sorted({check_severity(s) for s in severities})
    if not values:
        raise ConfigError(f"severities are empty; choose from {list(SEVERITIES)}")
    return tuple(values)


def allocate_counts(ratios: Mapping[str, float], n: int) -> dict[str, int]:
    """Split ``n`` samples by ``ratios`` with the largest-remainder method (sums to ``n``)."""
    exact = {name: frac * n for name, frac in ratios.items()}
    counts = {name: math.floor(v) for name, v in exact.items()}
    short = n - sum(counts.values())
    # Ties go to the earlier condition in CONDITION_IDS order, so the split is reproducible.
    by_remainder = sorted(exact, key=lambda k: (-(exact[k] - counts[k]), CONDITION_IDS[k]))
    for name in by_remainder[:short]:
        counts[name] += 1
    return counts


def mix_quality(
    images: torch.Tensor,
    labels: torch.Tensor,
    ratios: Mapping[str, float],
    severities: Iterable[int] = SEVERITIES,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Corrupt a deterministic share of ``images`` per condition.

    Exactly ``round(ratio * N)`` samples (largest-remainder rounding) get each condition;
    which samples is a seeded random permutation, and each corrupted sample's severity is
    drawn uniformly from ``severities``. Samples sharing a (corruption, severity) are
    corrupted together, in a fixed order, from one generator seeded with ``seed``.

    Args:
        images: ``(N, C, H, W)`` float in [0, 1].
        labels: ``(N,)`` class labels.
        ratios: Condition name ("clean" or a :class:`Corruption` value) -> fraction.
        severities: The severities to draw from (a set, list or range within 1..5).
        seed: Fixes the assignment, the severities and the corruption noise.

    Returns:
        ``(images, labels, corruption_ids, severities)``: ``(N, C, H, W)`` float and three
        ``(N,)`` int64 tensors, in the input order.

    Raises:
        ConfigError: Bad ratios or severities.
        ValueError: ``images`` and ``labels`` disagree in length.
    """
    fractions = validate_ratios(ratios)
    levels = validate_severities(severities)
    n = images.shape[0]
    if labels.shape[0] != n:
        raise ValueError(f"{n} images but {labels.shape[0]} labels")
    gen = torch.Generator().manual_seed(int(seed))
    counts = allocate_counts(fractions, n)
    ids = torch.cat(
        [torch.full((counts[k],), CONDITION_IDS[k], dtype=torch.int64) for k in fractions]
    )  # (N,) sorted by condition
    ids = ids[torch.randperm(n, generator=gen)]
    level_choice = torch.randint(len(levels), (n,), generator=gen)
    sev = torch.tensor(levels, dtype=torch.int64)[level_choice]
    sev = torch.where(ids == 0, torch.zeros_like(sev), sev)  # (N,)

    out = images.clone()
    for corruption in Corruption:
        cid = CONDITION_IDS[corruption.value]
        for level in levels:
            idx = torch.nonzero((ids == cid) & (sev == level)).squeeze(1)
            if idx.numel():
                out[idx] = corrupt(images[idx], corruption, level, gen)
    log.debug("mixed %d samples: %s", n, counts)
    return out, labels.clone().long(), ids, sev


class MixedQualityDataset(Dataset):
    """A dataset of clean and corrupted samples, built once (eagerly) by :func:`mix_quality`.

    Items are :class:`QualitySample` tuples, which the default DataLoader collate batches
    field by field. The whole corrupted set lives in memory (60k 28x28 images: 190 MB).

    Attributes:
        images: ``(N, C, H, W)`` the mixed images.
        labels: ``(N,)`` class labels.
        corruption_ids: ``(N,)`` 0 for clean, else :data:`CONDITION_IDS` of the corruption.
        severities: ``(N,)`` 0 for clean, else 1..5.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        ratios: Mapping[str, float],
        severities: Iterable[int] = SEVERITIES,
        seed: int = 0,
    ) -> None:
        """Build the mix; arguments as in :func:`mix_quality`."""
        self.images, self.labels, self.corruption_ids, self.severities = mix_quality(
            images, labels, ratios, severities, seed
        )

    def __len__(self) -> int:
        """Number of samples."""
        return self.images.shape[0]

    def __getitem__(self, index: int) -> QualitySample:
        """The sample at ``index``."""
        return QualitySample(
            self.images[index],
            self.labels[index],
            self.corruption_ids[index],
            self.severities[index],
        )


def _allowed() -> str:
    return ", ".join(CONDITION_NAMES)
