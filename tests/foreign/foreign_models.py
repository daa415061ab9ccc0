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


def randomize_bn(model: nn.Module, seed: int = 1) -> None:
    """Give BatchNorm non-trivial statistics so thresholds differ per channel."""
    g = torch.Generator().manual_seed(seed)
    for mod in model.modules():
        if isinstance(mod, nn.BatchNorm2d | nn.BatchNorm1d):
            n = mod.num_features
            mod.running_mean.data = torch.rand(n, generator=g) * 0.2
            mod.running_var.data = torch.rand(n, generator=g) * 0.5 + 0.5
            mod.weight.data = torch.rand(n, generator=g) + 0.5
            mod.bias.data = torch.rand(n, generator=g) * 0.2


def export(model: nn.Module, shape: tuple[int, ...], out_dir: Path, seed: int = 0) -> Path:
    """Randomize BatchNorm, switch to eval and export QONNX; returns the file."""
    randomize_bn(model, seed + 1)
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "model.onnx"
    export_qonnx(model, torch.rand(1, *shape), export_path=str(path))
    return path
