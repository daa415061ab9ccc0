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

from collections import OrderedDict

import brevitas.nn as qnn
from torch import Tensor, nn

from codesign.models.arch import (
    QUICKSTART_ARCH,
    CnnArch,
    StageSpec,
    conv_output_size,
)
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
