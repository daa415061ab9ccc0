"""The plain-data architecture of the CNN family: stage specs, ``CnnArch``, the quickstart.

Torch-free, so that loading a flow config, a search space or a cost query does not import
torch or brevitas. The modules are built from these by :func:`codesign.models.cnn.build_cnn`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from codesign.errors import ConfigError

__all__ = [
    "CLASSIFIER_NAME",
    "QUICKSTART_ARCH",
    "CnnArch",
    "StageSpec",
    "conv_output_size",
]

CLASSIFIER_NAME = "fc"
"""Name of the classifier layer in :meth:`CnnArch.layer_names`."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def conv_output_size(size: int, kernel: int, stride: int) -> int:
    """Spatial output size of a conv with "same" padding ``kernel // 2`` (odd kernel)."""
    pad = kernel // 2
    return (size + 2 * pad - kernel) // stride + 1


@dataclass(frozen=True)
class StageSpec:
    """One conv block: ``QuantConv2d -> BatchNorm2d -> QuantReLU``.

    Attributes:
        width: Output channels before pruning (>= 1).
        kernel: Square kernel size, odd (1, 3, 5, 7...); padding is ``kernel // 2``.
        stride: 1 or 2 (2 replaces a max-pool, which is HLS-only in finn-plus).
        prune_ratio: Fraction of output channels removed, in ``[0, 1)``.
    """

    width: int
    kernel: int = 3
    stride: int = 1
    prune_ratio: float = 0.0

    def __post_init__(self) -> None:
        if not _is_int(self.width) or self.width < 1:
            raise ConfigError(f"stage width must be an int >= 1, got {self.width!r}")
        if not _is_int(self.kernel) or self.kernel < 1 or self.kernel % 2 == 0:
            raise ConfigError(
                f"stage kernel must be an odd int >= 1 (same padding), got {self.kernel!r}"
            )
        if not _is_int(self.stride) or self.stride not in (1, 2):
            raise ConfigError(f"stage stride must be 1 or 2, got {self.stride!r}")
        ratio = self.prune_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio < 1:
            raise ConfigError(f"stage prune_ratio must be in [0, 1), got {ratio!r}")

    @property
    def channels(self) -> int:
        """Output channels after pruning: ``max(1, floor(width * (1 - prune_ratio) + 0.5))``."""
        return max(1, math.floor(self.width * (1.0 - self.prune_ratio) + 0.5))

    @property
    def padding(self) -> int:
        """Zero padding on each side (``kernel // 2``)."""
        return self.kernel // 2

    def to_dict(self) -> dict[str, Any]:
        """Return a YAML-friendly dict of the four fields."""
        return {
            "width": self.width,
            "kernel": self.kernel,
            "stride": self.stride,
            "prune_ratio": float(self.prune_ratio),
        }


_STAGE_KEYS = frozenset({"width", "kernel", "stride", "prune_ratio"})
_ARCH_KEYS = frozenset({"stages", "num_classes", "in_channels", "input_size"})


@dataclass(frozen=True)
class CnnArch:
    """A network of the family: conv stages, then a linear classifier.

    Attributes:
        stages: The conv blocks, input to output (at least one).
        num_classes: Classifier outputs (>= 2).
        in_channels: Input image channels.
        input_size: Input height = width in pixels.
    """

    stages: tuple[StageSpec, ...]
    num_classes: int = 10
    in_channels: int = 1
    input_size: int = 28

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))
        if not self.stages:
            raise ConfigError("an architecture needs at least one conv stage")
        for i, stage in enumerate(self.stages):
            if not isinstance(stage, StageSpec):
                raise ConfigError(f"stage {i} must be a StageSpec, got {stage!r}")
        if not _is_int(self.num_classes) or self.num_classes < 2:
            raise ConfigError(f"num_classes must be an int >= 2, got {self.num_classes!r}")
        if not _is_int(self.in_channels) or self.in_channels < 1:
            raise ConfigError(f"in_channels must be an int >= 1, got {self.in_channels!r}")
        if not _is_int(self.input_size) or self.input_size < 1:
            raise ConfigError(f"input_size must be an int >= 1, got {self.input_size!r}")

    @property
    def n_layers(self) -> int:
        """Number of weight layers: one per stage plus the classifier."""
        return len(self.stages) + 1

    def layer_names(self) -> list[str]:
        """Layer names in forward order: ``conv0 .. conv{n-1}``, then ``fc``."""
        return [f"conv{i}" for i in range(len(self.stages))] + [CLASSIFIER_NAME]

    @property
    def widths(self) -> tuple[int, ...]:
        """Output channels of each stage after pruning."""
        return tuple(stage.channels for stage in self.stages)

    def feature_sizes(self) -> tuple[int, ...]:
        """Spatial size (height = width) after each stage."""
        sizes = []
        size = self.input_size
        for stage in self.stages:
            size = conv_output_size(size, stage.kernel, stage.stride)
            sizes.append(size)
        return tuple(sizes)

    @property
    def classifier_in_features(self) -> int:
        """Inputs of the classifier: last stage's channels x spatial size squared."""
        return self.widths[-1] * self.feature_sizes()[-1] ** 2

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Shape of one input image, ``(C, H, W)``."""
        return (self.in_channels, self.input_size, self.input_size)

    def to_dict(self) -> dict[str, Any]:
        """Return a YAML-friendly dict; :meth:`from_dict` reads it back unchanged."""
        return {
            "stages": [stage.to_dict() for stage in self.stages],
            "num_classes": self.num_classes,
            "in_channels": self.in_channels,
            "input_size": self.input_size,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CnnArch:
        """Parse the dict written by :meth:`to_dict`; unknown keys are rejected.

        Raises:
            ConfigError: Malformed structure, unknown key or out-of-range value.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"architecture must be a mapping, got {type(data).__name__}")
        unknown = sorted(set(data) - _ARCH_KEYS)
        if unknown:
            raise ConfigError(
                f"architecture: unknown key(s) {', '.join(map(str, unknown))}; "
                f"expected {', '.join(sorted(_ARCH_KEYS))}"
            )
        raw_stages = data.get("stages")
        if isinstance(raw_stages, str | bytes) or not isinstance(raw_stages, Sequence):
            raise ConfigError("architecture: 'stages' must be a list of stage mappings")
        stages = []
        for i, raw in enumerate(raw_stages):
            if not isinstance(raw, Mapping):
                raise ConfigError(f"architecture: stage {i} must be a mapping, got {raw!r}")
            unknown = sorted(set(raw) - _STAGE_KEYS)
            if unknown:
                raise ConfigError(
                    f"architecture: stage {i}: unknown key(s) {', '.join(map(str, unknown))}; "
                    f"expected {', '.join(sorted(_STAGE_KEYS))}"
                )
            if "width" not in raw:
                raise ConfigError(f"architecture: stage {i}: missing key width")
            stages.append(StageSpec(**raw))
        kwargs = {k: data[k] for k in ("num_classes", "in_channels", "input_size") if k in data}
        return cls(stages=tuple(stages), **kwargs)


QUICKSTART_ARCH = CnnArch(
    stages=(
        StageSpec(width=8, kernel=3, stride=2),  # 28 -> 14
        StageSpec(width=16, kernel=3, stride=2),  # 14 -> 7
        StageSpec(width=16, kernel=3, stride=2),  # 7 -> 4
    ),
    num_classes=10,
    in_channels=1,
    input_size=28,
)
"""Tiny Fashion-MNIST network: 3 stride-2 conv stages (8, 16, 16 channels), 256 -> 10 classifier."""
