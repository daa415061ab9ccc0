"""Data quality: corruptions, mixed-quality datasets and no-reference quality measures.

The input side of the data-quality-aware mixed-precision policy: :func:`quality_features`
maps a batch of images to a ``(B, F)`` vector that a policy network turns into per-layer
bit-widths; :func:`corrupt` and :class:`MixedQualityDataset` make the data it learns from.
"""

import importlib

# Imported on first use (PEP 562), so that ``codesign.quality.names`` stays torch-free.
_EXPORTS: dict[str, str] = {
    "CLEAN": "codesign.quality.corruptions",
    "SEVERITIES": "codesign.quality.corruptions",
    "SEVERITY_PARAMS": "codesign.quality.corruptions",
    "Corruption": "codesign.quality.corruptions",
    "corrupt": "codesign.quality.corruptions",
    "parse_corruption": "codesign.quality.corruptions",
    "FEATURE_NAMES": "codesign.quality.measures",
    "FEATURE_SCALING": "codesign.quality.measures",
    "blockiness": "codesign.quality.measures",
    "hf_energy_ratio": "codesign.quality.measures",
    "mean_brightness": "codesign.quality.measures",
    "noise_sigma": "codesign.quality.measures",
    "normalize_features": "codesign.quality.measures",
    "quality_features": "codesign.quality.measures",
    "raw_measures": "codesign.quality.measures",
    "rms_contrast": "codesign.quality.measures",
    "sharpness": "codesign.quality.measures",
    "CONDITION_IDS": "codesign.quality.mixed",
    "CONDITION_NAMES": "codesign.quality.mixed",
    "MixedQualityDataset": "codesign.quality.mixed",
    "QualitySample": "codesign.quality.mixed",
    "condition_name": "codesign.quality.mixed",
    "mix_quality": "codesign.quality.mixed",
}


def __getattr__(name: str) -> object:
    """Import the module that defines ``name`` on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'codesign.quality' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


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
