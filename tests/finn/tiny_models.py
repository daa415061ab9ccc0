"""Tiny Brevitas networks for the compile tests, built with plain ``brevitas.nn`` layers.

They stand in for a "foreign" model: own layer names, Brevitas's default quantizers, a
28x28 single-channel input like Fashion-MNIST.
"""

from __future__ import annotations

from pathlib import Path

import brevitas.nn as qnn
import torch
from brevitas.export import export_qonnx
from torch import nn

from codesign.models.bn_stats import randomize_batchnorm


class TinyCnn(nn.Module):
    """conv(s2, pad1) -> BN -> ReLU -> conv(s2) -> BN -> ReLU -> [maxpool] -> FC.

    ``bits`` is ``(input, (w1, a1), (w2, a2), w3)``; ``pool`` adds a 2x2 max-pool (True,
    codesign's RTL max-pool) or average pool (``"avg"``, HLS-only: the compile refuses it)
    before the classifier.
    """

    def __init__(self, bits: tuple = (8, (4, 4), (4, 4), 4), pool: bool | str = False) -> None:
        super().__init__()
        ib, (w1, a1), (w2, a2), w3 = bits
        self.inp = qnn.QuantIdentity(bit_width=ib, return_quant_tensor=True)
        self.conv_a = qnn.QuantConv2d(1, 4, 3, stride=2, padding=1, weight_bit_width=w1, bias=False)
        self.bn_a = nn.BatchNorm2d(4)
        self.act_a = qnn.QuantReLU(bit_width=a1, return_quant_tensor=True)
        self.conv_b = qnn.QuantConv2d(4, 8, 3, stride=2, weight_bit_width=w2, bias=False)
        self.bn_b = nn.BatchNorm2d(8)
        self.act_b = qnn.QuantReLU(bit_width=a2, return_quant_tensor=True)
        self.pool = nn.AvgPool2d(2) if pool == "avg" else nn.MaxPool2d(2) if pool else nn.Identity()
        side = 3 if pool else 6
        self.head = qnn.QuantLinear(8 * side * side, 10, weight_bit_width=w3, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inp(x)  # (B, 1, 28, 28)
        x = self.act_a(self.bn_a(self.conv_a(x)))  # (B, 4, 14, 14)
        x = self.act_b(self.bn_b(self.conv_b(x)))  # (B, 8, 6, 6)
        x = self.pool(x)
        return self.head(x.flatten(1))  # (B, 10)


def export_tiny(
    out_dir: Path, bits: tuple = (8, (4, 4), (4, 4), 4), pool: bool | str = False, seed: int = 0
) -> tuple[TinyCnn, Path]:
    """Build, randomize and export a :class:`TinyCnn`; returns the model and its QONNX path."""
    torch.manual_seed(seed)
    model = TinyCnn(bits, pool=pool)
    randomize_batchnorm(model)
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "model.onnx"
    export_qonnx(model, torch.rand(1, 1, 28, 28), export_path=str(path))
    return model, path


class BinaryMlp(nn.Module):
    """A W1A1 (XNOR) MLP: binary weights and activations, HLS-only in finn-plus."""

    def __init__(self) -> None:
        from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst

        super().__init__()
        self.inp = qnn.QuantIdentity(
            act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=True
        )
        self.fc1 = qnn.QuantLinear(
            64, 32, bias=False, weight_quant=SignedBinaryWeightPerTensorConst
        )
        self.bn1 = nn.BatchNorm1d(32)
        self.act1 = qnn.QuantIdentity(
            act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=True
        )
        self.fc2 = qnn.QuantLinear(
            32, 10, bias=False, weight_quant=SignedBinaryWeightPerTensorConst
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act1(self.bn1(self.fc1(self.inp(x)))))  # (B, 64) -> (B, 10)


def export_binary_mlp(out_dir: Path) -> Path:
    """Export a :class:`BinaryMlp` to QONNX; returns its path."""
    torch.manual_seed(0)
    model = BinaryMlp()
    randomize_batchnorm(model)
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "model.onnx"
    export_qonnx(model, torch.rand(1, 64), export_path=str(path))
    return path


class BiasCnn(nn.Module):
    """One conv and a classifier, both with biases (the last one a float bias on the host)."""

    def __init__(self) -> None:
        super().__init__()
        self.inp = qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)
        self.conv = qnn.QuantConv2d(1, 4, 3, stride=2, weight_bit_width=4, bias=True)
        self.bn = nn.BatchNorm2d(4)
        self.act = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
        self.fc = qnn.QuantLinear(4 * 13 * 13, 10, weight_bit_width=4, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn(self.conv(self.inp(x))))  # (B, 4, 13, 13)
        return self.fc(x.flatten(1))  # (B, 10)


def export_bias_cnn(out_dir: Path) -> Path:
    """Export a :class:`BiasCnn` to QONNX; returns its path."""
    torch.manual_seed(0)
    model = BiasCnn()
    randomize_batchnorm(model)
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "model.onnx"
    export_qonnx(model, torch.rand(1, 1, 28, 28), export_path=str(path))
    return path
