"""Data quality: corruptions, mixed-quality datasets and no-reference quality measures.

The input side of the data-quality-aware mixed-precision policy: :func:`quality_features`
maps a batch of images to a ``(B, F)`` vector that a policy network turns into per-layer
bit-widths; :func:`corrupt` and :class:`MixedQualityDataset` make the data it learns from.
"""

from codesign.quality.corruptions import (
    CLEAN,
    SEVERITIES,
    SEVERITY_PARAMS,
    Corruption,
    corrupt,
    parse_corruption,
)
from codesign.quality.measures import (
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
from codesign.quality.mixed import (
    CONDITION_IDS,
    CONDITION_NAMES,
    MixedQualityDataset,
    QualitySample,
    condition_name,
    mix_quality,
)

__all__ = [
    "CLEAN",
    "CONDITION_IDS",
    "CONDITION_NAMES",
    "FEATURE_NAMES",
    "FEATURE_SCALING",
    "SEVERITIES",
    "SEVERITY_PARAMS",
    "Corruption",
    "MixedQualityDataset",
    "QualitySample",
    "blockiness",
    "condition_name",
    "corrupt",
    "hf_energy_ratio",
    "mean_brightness",
    "mix_quality",
    "noise_sigma",
    "normalize_features",
    "parse_corruption",
    "quality_features",
    "raw_measures",
    "rms_contrast",
    "sharpness",
]
