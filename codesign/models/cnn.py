"""The FINN-friendly CNN family: every layer becomes an RTL node in finn-plus 1.6.1.

A network is an input quantizer, then one block per :class:`StageSpec`
(``QuantConv2d(bias=False) -> BatchNorm2d -> QuantReLU``), then a flatten and a
``QuantLinear`` classifier without bias. The argmax is taken on the host.

Why these layers: FINN lowers a conv to ``FMPadding`` + ``ConvolutionInputGenerator`` +
``MVAU`` (all three have RTL variants), and absorbs BatchNorm + ReLU quantizer into a
standalone ``Thresholding`` node (RTL). Max-pool, TopK, residual forks and most elementwise
ops are HLS-only in finn-plus 1.6.1, so the family down-samples with stride-2 convolutions
and has no skip connections. Convolutions use "same" padding ``kernel // 2`` (odd kernels
only), so a stride-``s`` stage maps ``H`` to ``ceil(H / s)``.

Channel pruning is structural: a stage with ``prune_ratio = r`` is built with
``max(1, floor(width * (1 - r) + 0.5))`` output channels (round half up, at least one), so the
pruned network is a smaller static module, not a masked large one.

Example:
    >>> import torch
    >>> from codesign.models.bits import BitConfig
    >>> from codesign.models.cnn import QUICKSTART_ARCH, build_cnn
    >>> model = build_cnn(QUICKSTART_ARCH, BitConfig.uniform(QUICKSTART_ARCH.n_layers, 4, 4))
    >>> model.eval()(torch.rand(2, 1, 28, 28)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import brevitas.nn as qnn
from torch import Tensor, nn

from codesign.errors import ConfigError
from codesign.models.bits import BitConfig, LayerBits
from codesign.models.quant import ActQuant, InputQuant, WeightQuant, input_scale

__all__ = [
    "QUICKSTART_ARCH",
    "CnnArch",
    "ConvBlock",
    "QuantCNN",
    "StageSpec",
    "build_cnn",
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


class ConvBlock(nn.Sequential):
    """``QuantConv2d(bias=False) -> BatchNorm2d -> QuantReLU``, returning a QuantTensor."""

    def __init__(self, in_channels: int, stage: StageSpec, bits: LayerBits) -> None:
        """Build the block.

        Args:
            in_channels: Input channels.
            stage: Kernel, stride and (pruned) output width.
            bits: Weight bit-width and the bit-width of the ReLU quantizer.
        """
        super().__init__(
            OrderedDict(
                conv=qnn.QuantConv2d(
                    in_channels,
                    stage.channels,
                    kernel_size=stage.kernel,
                    stride=stage.stride,
                    padding=stage.padding,
                    bias=False,
                    weight_quant=WeightQuant,
                    weight_bit_width=bits.weight,
                ),
                bn=nn.BatchNorm2d(stage.channels),
                act=qnn.QuantReLU(act_quant=ActQuant, bit_width=bits.act, return_quant_tensor=True),
            )
        )


class QuantCNN(nn.Module):
    """A quantized CNN of the family; build it with :func:`build_cnn`.

    Attributes:
        arch: The architecture it was built from (store it in checkpoints).
        bits: The bit-width policy it was built with (store it in checkpoints).
        input_quant: The constant-scale unsigned input quantizer.
        features: ``conv0 .. conv{n-1}`` :class:`ConvBlock` modules.
        classifier: The ``QuantLinear`` classifier (no bias, no output quantizer).
    """

    def __init__(self, arch: CnnArch, bits: BitConfig) -> None:
        """Build the network; see :func:`build_cnn`."""
        super().__init__()
        bits.validate(arch)
        self.arch = arch
        self.bits = bits
        self.input_quant = qnn.QuantIdentity(
            act_quant=InputQuant, bit_width=bits.input_bits, return_quant_tensor=True
        )
        blocks: OrderedDict[str, nn.Module] = OrderedDict()
        in_channels = arch.in_channels
        names = arch.layer_names()
        for name, stage, layer_bits in zip(names[:-1], arch.stages, bits.layers[:-1], strict=True):
            blocks[name] = ConvBlock(in_channels, stage, layer_bits)
            in_channels = stage.channels
        self.features = nn.Sequential(blocks)
        self.classifier = qnn.QuantLinear(
            arch.classifier_in_features,
            arch.num_classes,
            bias=False,
            weight_quant=WeightQuant,
            weight_bit_width=bits.layers[-1].weight,
        )

    def forward(self, x: Tensor) -> Tensor:
        """Return logits for images ``x``: ``(B, C, H, W)`` floats in ``[0, 1]``.

        Returns:
            ``(B, num_classes)`` float logits; the predicted class is their argmax.
        """
        q = self.input_quant(x)  # (B, C, H, W) QuantTensor on the 1/(2^b-1) grid
        q = self.features(q)  # (B, C_last, S, S) QuantTensor, unsigned
        q = q.flatten(1)  # (B, C_last * S * S), NCHW order
        return self.classifier(q)  # (B, num_classes) float

    @property
    def input_scale(self) -> float:
        """The constant input scale ``1 / (2^input_bits - 1)``."""
        return input_scale(self.bits.input_bits)

    def output_scale(self) -> float:
        """Scale of the logits: classifier weight scale x scale of its input activation.

        ``logits / output_scale()`` is the integer accumulator of the classifier, which is
        what the hardware's last MVAU outputs.
        """
        last_act = self.features[-1].act
        act_scale = last_act.act_quant.scale()
        weight_scale = self.classifier.quant_weight().scale
        return float((weight_scale * act_scale).reshape(()).item())

    def layers(self) -> list[tuple[str, nn.Module]]:
        """The weight layers in forward order, paired with their names."""
        names = self.arch.layer_names()
        convs: list[nn.Module] = [block.conv for block in self.features]
        return list(zip(names, [*convs, self.classifier], strict=True))


def build_cnn(arch: CnnArch, bits: BitConfig) -> QuantCNN:
    """Build a quantized CNN of the family.

    Args:
        arch: Stages, classes and input geometry (pruned widths are applied).
        bits: One :class:`LayerBits` per layer of ``arch``.

    Returns:
        The model in training mode, with PyTorch's default initialisation (seed the global
        torch RNG before calling for a reproducible model).

    Raises:
        ConfigError: ``bits`` does not fit ``arch`` (the message names the layer).
    """
    return QuantCNN(arch, bits)
