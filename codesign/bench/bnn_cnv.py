"""FINN's CNV (BNN-PYNQ) at W1A1 and W2A2, written the way an outside Brevitas user writes it.

Plain ``brevitas.nn`` layers and Brevitas's stock quantizers, nothing from codesign's model
family: 32x32x3 input quantized to 8 bits in [-1, 1), 3x3 unpadded convs 64, 64, max-pool,
128, 128, max-pool, 256, 256, then FC 512, 512, 10, each conv/FC followed by BatchNorm and
the activation quantizer (BNN-PYNQ's ``cnv.py`` topology; its final TensorNorm is left out).
The tests (tests/lowbit) and the ``cnv`` benchmark build it from here.
"""

from __future__ import annotations

from pathlib import Path

import brevitas.nn as qnn
import torch
from brevitas.quant import (
    Int8ActPerTensorFloat,
    Int8WeightPerTensorFloat,
    SignedBinaryActPerTensorConst,
    SignedBinaryWeightPerTensorConst,
)
from torch import nn

from codesign.models.bn_stats import randomize_batchnorm

CONV_CHANNELS = (64, 64, 128, 128, 256, 256)
POOL_AFTER = (1, 3)  # max-pool after the 2nd and the 4th conv
FC_FEATURES = (512, 512)
FRAME = (3, 32, 32)


class InputQuant(Int8ActPerTensorFloat):
    """8-bit signed input in [-1, 1) (BNN-PYNQ's first-layer input quantizer)."""

    min_val = -1.0
    max_val = 1.0 - 2.0**-7


class LowBitWeight(Int8WeightPerTensorFloat):
    """Narrow-range signed weights of a given bit width (2 bits: -1, 0, +1)."""

    narrow_range = True


class LowBitAct(Int8ActPerTensorFloat):
    """Signed activations in [-1, 1] (BNN-PYNQ's hardtanh-like activations)."""

    min_val = -1.0
    max_val = 1.0


def _weight(bits: int) -> dict:
    if bits == 1:
        return {"weight_quant": SignedBinaryWeightPerTensorConst}
    return {"weight_quant": LowBitWeight, "weight_bit_width": bits}


def _act(bits: int) -> nn.Module:
    if bits == 1:
        return qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=True)
    return qnn.QuantIdentity(act_quant=LowBitAct, bit_width=bits, return_quant_tensor=True)


class BnnCnv(nn.Module):
    """CNV-wWaA: conv stack with two max-pools, three FC layers (10 classes)."""

    def __init__(self, w: int = 1, a: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            qnn.QuantIdentity(act_quant=InputQuant, bit_width=8, return_quant_tensor=True)
        ]
        c_in = FRAME[0]
        for k, c_out in enumerate(CONV_CHANNELS):
            layers += [
                qnn.QuantConv2d(c_in, c_out, 3, bias=False, **_weight(w)),
                nn.BatchNorm2d(c_out),
                _act(a),
            ]
            if k in POOL_AFTER:
                layers.append(nn.MaxPool2d(2))
            c_in = c_out
        self.features = nn.Sequential(*layers)  # (B, 3, 32, 32) -> (B, 256, 1, 1)
        fc: list[nn.Module] = [nn.Flatten()]
        n_in = c_in
        for n_out in FC_FEATURES:
            fc += [qnn.QuantLinear(n_in, n_out, bias=False, **_weight(w)), nn.BatchNorm1d(n_out)]
            fc.append(_act(a))
            n_in = n_out
        fc.append(qnn.QuantLinear(n_in, 10, bias=False, **_weight(w)))
        self.classifier = nn.Sequential(*fc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.classifier(self.features(x))  # (B, 3, 32, 32) -> (B, 10)


def export_cnv(w: int, a: int, out_dir: Path, seed: int = 0) -> tuple[BnnCnv, Path]:
    """Build CNV-wWaA with seeded weights and BN statistics, export it to QONNX."""
    from brevitas.export import export_qonnx

    torch.manual_seed(seed)
    model = BnnCnv(w, a)
    randomize_batchnorm(model, seed + 1, mean_std=0.3)
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "model.onnx"
    export_qonnx(model, torch.rand(1, *FRAME) * 2 - 1, export_path=str(path))
    return model, path
