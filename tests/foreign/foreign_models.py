"""Foreign models for the hardware matrix, written the way a Brevitas user writes them.

Plain ``brevitas.nn`` layers with the user's own quantizer recipes (subclasses of Brevitas's
stock quantizers), ``nn.Flatten``, biases, BatchNorm; nothing from codesign's model family.
"""

from __future__ import annotations

from pathlib import Path

import brevitas.nn as qnn
import torch
from brevitas.export import export_qonnx
from brevitas.quant import Int8ActPerTensorFloat, Int8WeightPerTensorFloat, Uint8ActPerTensorFloat
from torch import nn

from codesign.models.bn_stats import randomize_batchnorm


class UserWeightQuant(Int8WeightPerTensorFloat):
    """The user's weight quantizer: per-tensor float scale, narrow signed range."""

    narrow_range = True


class UserReluQuant(Uint8ActPerTensorFloat):
    """The user's unsigned activation quantizer (ReLU outputs)."""

    max_val = 2.0


class UserSignedQuant(Int8ActPerTensorFloat):
    """The user's signed activation quantizer (inputs, hardtanh-like activations)."""

    max_val = 1.0
    min_val = -1.0


def _w(bits: int) -> dict:
    return {"weight_quant": UserWeightQuant, "weight_bit_width": bits}


class TfcMlp(nn.Module):
    """FINN's TFC topology: flatten 1x28x28 -> hidden x3 -> 10, W{w}A{a}, no biases.

    ``quant_after_flatten`` puts the 8-bit per-tensor input quantizer after ``nn.Flatten``
    instead of before it (the two orders must cost the same).
    """

    def __init__(
        self,
        w: int = 2,
        a: int = 2,
        hidden: tuple[int, ...] = (64, 64, 64),
        quant_after_flatten: bool = False,
    ) -> None:
        super().__init__()
        inp = qnn.QuantIdentity(act_quant=UserReluQuant, bit_width=8, return_quant_tensor=True)
        self.features = (
            nn.Sequential(nn.Flatten(), inp)
            if quant_after_flatten
            else nn.Sequential(inp, nn.Flatten())
        )
        layers: list[nn.Module] = []
        width = 28 * 28
        for h in hidden:
            layers += [
                qnn.QuantLinear(width, h, bias=False, **_w(w)),
                nn.BatchNorm1d(h),
                qnn.QuantReLU(act_quant=UserReluQuant, bit_width=a, return_quant_tensor=True),
            ]
            width = h
        layers.append(qnn.QuantLinear(width, 10, bias=False, **_w(w)))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(self.features(x))  # (B, 1, 28, 28) -> (B, 10)


def export(model: nn.Module, shape: tuple[int, ...], out_dir: Path, seed: int = 0) -> Path:
    """Randomize BatchNorm, switch to eval and export QONNX; returns the file."""
    randomize_batchnorm(model, seed + 1)
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "model.onnx"
    export_qonnx(model, torch.rand(1, *shape), export_path=str(path))
    return path


class BiasFlattenCnn(nn.Module):
    """A CNN with biases everywhere, padding, and a final flatten into two FC layers."""

    def __init__(self, w: int = 4, a: int = 4) -> None:
        super().__init__()
        self.inp = qnn.QuantIdentity(act_quant=UserReluQuant, bit_width=8, return_quant_tensor=True)
        self.conv1 = qnn.QuantConv2d(1, 4, 3, stride=2, padding=1, bias=True, **_w(w))
        self.bn1 = nn.BatchNorm2d(4)
        self.act1 = qnn.QuantReLU(act_quant=UserReluQuant, bit_width=a, return_quant_tensor=True)
        self.conv2 = qnn.QuantConv2d(4, 8, 3, stride=2, bias=True, **_w(w))
        self.act2 = qnn.QuantReLU(act_quant=UserReluQuant, bit_width=a, return_quant_tensor=True)
        self.flatten = nn.Flatten()
        self.fc1 = qnn.QuantLinear(8 * 2 * 2, 16, bias=True, **_w(w))
        self.act3 = qnn.QuantReLU(act_quant=UserReluQuant, bit_width=a, return_quant_tensor=True)
        self.fc2 = qnn.QuantLinear(16, 10, bias=True, **_w(w))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act1(self.bn1(self.conv1(self.inp(x))))  # (B, 4, 5, 5)
        x = self.act2(self.conv2(x))  # (B, 8, 2, 2)
        x = self.act3(self.fc1(self.flatten(x)))  # (B, 16)
        return self.fc2(x)  # (B, 10)


class MaxPoolCnn(nn.Module):
    """A user's low-bit CNN with ``nn.MaxPool2d`` after a quantized ReLU, biases, a flatten."""

    def __init__(self, w: int = 2, a: int = 2) -> None:
        super().__init__()
        self.inp = qnn.QuantIdentity(act_quant=UserReluQuant, bit_width=8, return_quant_tensor=True)
        self.conv1 = qnn.QuantConv2d(1, 4, 3, padding=1, bias=True, **_w(w))
        self.bn1 = nn.BatchNorm2d(4)
        self.act1 = qnn.QuantReLU(act_quant=UserReluQuant, bit_width=a, return_quant_tensor=True)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = qnn.QuantConv2d(4, 8, 3, stride=2, bias=True, **_w(w))
        self.act2 = qnn.QuantReLU(act_quant=UserReluQuant, bit_width=a, return_quant_tensor=True)
        self.flatten = nn.Flatten()
        self.fc = qnn.QuantLinear(8 * 2 * 2, 10, bias=True, **_w(w))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.act1(self.bn1(self.conv1(self.inp(x)))))  # (B, 4, 5, 5)
        x = self.act2(self.conv2(x))  # (B, 8, 2, 2)
        return self.fc(self.flatten(x))  # (B, 10)


class SignedMlp(nn.Module):
    """Signed (hardtanh-like) activations, and a mid-network ``view`` that keeps the order.

    The view splits the 32 hidden units into two 16-vectors that share the classifier, so
    the classifier runs twice per frame and the reshape stays between two HW layers
    (FINN makes it a ``Reshape_rtl`` pass-through).
    """

    def __init__(self, w: int = 4, a: int = 3) -> None:
        super().__init__()
        self.inp = qnn.QuantIdentity(
            act_quant=UserSignedQuant, bit_width=8, return_quant_tensor=True
        )
        self.fc1 = qnn.QuantLinear(8 * 8, 32, bias=False, **_w(w))
        self.bn1 = nn.BatchNorm1d(32)
        self.act1 = qnn.QuantIdentity(
            act_quant=UserSignedQuant, bit_width=a, return_quant_tensor=True
        )
        self.fc2 = qnn.QuantLinear(16, 10, bias=False, **_w(w))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inp(x.flatten(1) * 2.0 - 1.0)  # (B, 64), signed
        x = self.act1(self.bn1(self.fc1(x)))  # (B, 32), signed
        return self.fc2(x.view(x.shape[0], 2, 16))  # (B, 2, 10)
