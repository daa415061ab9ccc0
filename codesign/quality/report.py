"""The quality report behind ``codesign quality``: a corruption grid PNG and a feature table.

:func:`quality_report` loads real images, renders :func:`render_grid` (each corruption at the
chosen severities next to the clean image) and computes :func:`feature_table` (the mean of
every normalized quality feature per condition and severity). The CLI only parses options
and prints the table.

Example:
    >>> import torch
    >>> rows = feature_table(torch.rand(8, 1, 28, 28), [Corruption.CONTRAST], (1, 5), seed=0)
    >>> [(r.condition, r.severity) for r in rows]
    [('clean', 0), ('contrast', 1), ('contrast', 5)]
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from codesign.data import load_dataset
from codesign.errors import ConfigError
from codesign.io import atomic_write_bytes, atomic_write_json
from codesign.quality.corruptions import (
    CLEAN,
    SEVERITIES,
    Corruption,
    corrupt,
    parse_corruption,
)
from codesign.quality.measures import FEATURE_NAMES, quality_features
from codesign.quality.mixed import validate_severities
from codesign.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_SEVERITIES: tuple[int, ...] = (1, 3, 5)


@dataclass(frozen=True)
class FeatureRow:
    """Mean quality features of one condition.

    Attributes:
        condition: "clean" or a :class:`Corruption` value.
        severity: 0 for clean, else 1..5.
        means: Mean of each feature over the images, in :data:`FEATURE_NAMES` order.
    """

    condition: str
    severity: int
    means: tuple[float, ...]


@dataclass(frozen=True)
class QualityReport:
    """What :func:`quality_report` produced.

    Attributes:
        dataset: The dataset name.
        num_images: Images the feature table averages over.
        seed: The seed of the image choice and the corruption noise.
        grid_path: The PNG written.
        json_path: The feature table as JSON, if one was asked for.
        feature_names: Column names of ``rows[i].means``.
        rows: The feature table.
    """

    dataset: str
    num_images: int
    seed: int
    grid_path: Path
    json_path: Path | None
    feature_names: tuple[str, ...]
    rows: tuple[FeatureRow, ...]


def parse_severity_list(text: str) -> tuple[int, ...]:
    """Parse ``"1,3,5"``, ``"2-4"`` or a mix (``"1,3-5"``) into sorted severities.

    Raises:
        ConfigError: Not of that form, or a value outside 1..5.
    """
    values: list[int] = []
    for part in text.split(","):
        part = part.strip()
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if match is None:
            raise ConfigError(
                f"severities must look like '1,3,5' or '2-4' (each in "
                f"{SEVERITIES[0]}..{SEVERITIES[-1]}), got {text!r}"
            )
        lo = int(match.group(1))
        hi = int(match.group(2)) if match.group(2) else lo
        if hi < lo:
            raise ConfigError(f"severity range {part!r} runs backwards; write it as '{hi}-{lo}'")
        values.extend(range(lo, hi + 1))
    return validate_severities(values)


def parse_corruption_list(names: Iterable[str]) -> tuple[Corruption, ...]:
    """Corruptions from names (``"all"`` or nothing means every one), in declaration order.

    Raises:
        ConfigError: An unknown name; the message lists the allowed ones.
    """
    names = [n for n in names if n]
    if not names or "all" in names:
        return tuple(Corruption)
    chosen = {parse_corruption(n) for n in names}
    return tuple(c for c in Corruption if c in chosen)


def sample_images(
    dataset: str, num_images: int, seed: int, settings: Settings | None = None
) -> torch.Tensor:
    """``num_images`` test images of ``dataset``, chosen by a seeded permutation.

    Returns:
        ``(n, 1, H, W)`` float in [0, 1], n = min(num_images, test-set size).

    Raises:
        ConfigError: ``num_images`` < 1.
        DatasetMissingError: The dataset is not installed.
    """
    if num_images < 1:
        raise ConfigError(f"number of images must be at least 1, got {num_images}")
    images, _ = load_dataset(dataset, "test", settings).tensors()  # (N, 1, H, W)
    order = torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(seed))
    return images[order[:num_images]]


def feature_table(
    images: torch.Tensor,
    corruptions: Sequence[Corruption] = tuple(Corruption),
    severities: Sequence[int] = SEVERITIES,
    seed: int = 0,
) -> list[FeatureRow]:
    """Mean normalized quality features of the clean images and of each corruption/severity.

    Args:
        images: ``(B, 1, H, W)`` float in [0, 1].
        corruptions: Which corruptions, in row order.
        severities: Which severities, per corruption.
        seed: Seeds one generator used for every row in turn (deterministic order).

    Returns:
        One :class:`FeatureRow` for clean, then one per (corruption, severity).
    """
    severities = validate_severities(severities)
    gen = torch.Generator().manual_seed(seed)
    rows = [_row(CLEAN, 0, images)]
    for corruption in corruptions:
        for severity in severities:
            corrupted = corrupt(images, corruption, severity, gen)  # (B, 1, H, W)
            rows.append(_row(Corruption(corruption).value, severity, corrupted))
    return rows


def _row(condition: str, severity: int, images: torch.Tensor) -> FeatureRow:
    means = quality_features(images).mean(dim=0)  # (F,)
    return FeatureRow(condition, severity, tuple(round(float(v), 6) for v in means))


def render_grid(
    images: torch.Tensor,
    path: Path,
    corruptions: Sequence[Corruption] = tuple(Corruption),
    severities: Sequence[int] = DEFAULT_SEVERITIES,
    seed: int = 0,
) -> Path:
    """Draw each corruption (rows) at each severity next to the clean image, per image.

    The columns repeat, for each image: clean, then the chosen severities. The PNG is
    written atomically.

    Args:
        images: ``(n, 1, H, W)`` float in [0, 1]; a few (3-4) fit a readable page.
        path: The PNG to write.
        corruptions: Rows, top to bottom.
        severities: Columns after "clean", per image.
        seed: The corruption noise.

    Returns:
        ``path``.
    """
    import matplotlib  # deferred: matplotlib is slow to import
    from matplotlib.figure import Figure

    severities = validate_severities(severities)
    if not corruptions:
        raise ConfigError("no corruptions to draw")
    gen = torch.Generator().manual_seed(seed)
    n, (h, w) = images.shape[0], images.shape[-2:]
    per_image = 1 + len(severities)
    n_rows, n_cols = len(corruptions), n * per_image
    # One mosaic drawn by a single imshow (an axes per panel is ~10x slower to render).
    # NaN marks the gaps, drawn white; a wider gap separates the images' column groups.
    gap = max(1, h // 14)
    group_gap = 3 * gap
    col_x = [c * (w + gap) + (c // per_image) * group_gap for c in range(n_cols)]
    row_y = [r * (h + gap) for r in range(n_rows)]
    mosaic = np.full((row_y[-1] + h, col_x[-1] + w), np.nan, dtype=np.float32)
    for r, corruption in enumerate(corruptions):
        panels = [images] + [corrupt(images, corruption, s, gen) for s in severities]
        for i in range(n):
            for j, panel in enumerate(panels):
                x0, y0 = col_x[i * per_image + j], row_y[r]
                mosaic[y0 : y0 + h, x0 : x0 + w] = panel[i].mean(dim=0).cpu().numpy()  # (H, W)

    inch_per_px = 0.85 / h  # each panel about 0.85 inch wide
    left, top, right, bottom = 1.4, 0.35, 0.1, 0.1  # margins in inches, for the labels
    fig_w = mosaic.shape[1] * inch_per_px + left + right
    fig_h = mosaic.shape[0] * inch_per_px + top + bottom
    fig = Figure(figsize=(fig_w, fig_h), dpi=100)
    ax = fig.add_axes(
        (left / fig_w, bottom / fig_h, 1 - (left + right) / fig_w, 1 - (top + bottom) / fig_h)
    )
    cmap = matplotlib.colormaps["gray"].with_extremes(bad="white")
    ax.imshow(mosaic, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest", aspect="equal")
    titles = [CLEAN] + [f"s{s}" for s in severities]
    ax.set_xticks(
        [x + (w - 1) / 2 for x in col_x], [titles[c % per_image] for c in range(n_cols)], fontsize=9
    )
    ax.set_yticks(
        [y + (h - 1) / 2 for y in row_y], [Corruption(c).value for c in corruptions], fontsize=9
    )
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write_bytes(Path(path), buf.getvalue())
    log.info("wrote %s (%d corruptions x %d images)", path, n_rows, n)
    return Path(path)


def quality_report(
    out: Path,
    dataset: str = "fashion_mnist",
    num_images: int = 512,
    grid_images: int = 3,
    severities: Sequence[int] = DEFAULT_SEVERITIES,
    corruptions: Sequence[Corruption] = tuple(Corruption),
    seed: int = 0,
    json_path: Path | None = None,
    settings: Settings | None = None,
) -> QualityReport:
    """Render the corruption grid to ``out`` and compute the feature table.

    Args:
        out: The grid PNG to write.
        dataset: ``fashion_mnist``, ``mnist`` or ``digits`` (test split).
        num_images: Images the feature table averages over.
        grid_images: Images shown in the grid (the first of the sample).
        severities: Severities in the grid and the table.
        corruptions: Corruptions in the grid and the table.
        seed: Image choice and corruption noise.
        json_path: Also write the table as JSON here.
        settings: Where datasets live (default: the process settings).

    Raises:
        ConfigError: Bad counts, severities or corruptions.
        DatasetMissingError: The dataset is not installed.
    """
    if num_images < 1:
        raise ConfigError(f"number of images must be at least 1, got {num_images}")
    if grid_images < 1:
        raise ConfigError(f"number of grid images must be at least 1, got {grid_images}")
    severities = validate_severities(severities)
    images = sample_images(dataset, max(num_images, grid_images), seed, settings)
    grid_path = render_grid(images[:grid_images], out, corruptions, severities, seed)
    rows = feature_table(images[:num_images], corruptions, severities, seed)
    report = QualityReport(
        dataset=str(dataset),
        num_images=min(num_images, images.shape[0]),
        seed=seed,
        grid_path=grid_path,
        json_path=json_path,
        feature_names=FEATURE_NAMES,
        rows=tuple(rows),
    )
    if json_path is not None:
        atomic_write_json(
            json_path,
            {
                "dataset": report.dataset,
                "num_images": report.num_images,
                "seed": seed,
                "feature_names": list(FEATURE_NAMES),
                "rows": [asdict(r) for r in rows],
            },
        )
    return report
