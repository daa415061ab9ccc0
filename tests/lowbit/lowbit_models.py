"""Brevitas models for the LUT-MVU tests, written with plain ``brevitas.nn`` layers.

:class:`PrecisionChain` strings single layers of different precisions into one MLP, so one
Verilator build checks them all: layer ``k`` multiplies ``w_k``-bit weights by the
``a_k``-bit (signed or unsigned) activations of the quantizer before it. :class:`XnorMlp`
is a W1A1 network with bipolar weights and activations (FINN's XNOR-popcount layers).
Both take ``(B, 32)`` frames.
"""

from __future__ import annotations

from pathlib import Path

import brevitas.nn as qnn
import torch
from brevitas.export import export_qonnx
from torch import nn

from codesign.models.bn_stats import randomize_batchnorm

#: (weight bits, input-activation bits, signed activations, narrow-range weights) per layer
CHAIN_LAYERS: tuple[tuple[int, int, bool, bool], ...] = (
    (8, 8, True, True),
    (8, 8, False, False),
    (4, 4, True, True),
    (4, 4, False, True),
    (3, 3, True, False),
    (3, 3, False, True),
    (2, 2, True, True),
    (2, 2, False, False),
    (2, 4, True, True),
    (2, 4, False, True),
    (4, 2, True, False),
    (8, 2, False, True),
)
CHAIN_WIDTH = 12
FRAME = (32,)


def _act(bits: int, signed: bool) -> nn.Module:
    if signed:
        return qnn.QuantIdentity(bit_width=bits, return_quant_tensor=True)
    return qnn.QuantReLU(bit_width=bits, return_quant_tensor=True)


class PrecisionChain(nn.Module):
    """act_1 -> FC_1 -> BN -> act_2 -> FC_2 -> ... -> FC_n (the last without activation)."""

    def __init__(self, layers: tuple[tuple[int, int, bool, bool], ...] = CHAIN_LAYERS) -> None:
        super().__init__()
        n_in = FRAME[0]
        mods: list[nn.Module] = []
        for k, (w, a, signed, narrow) in enumerate(layers):
            mods.append(_act(a, signed))
            if k > 0:
                mods.insert(len(mods) - 1, nn.BatchNorm1d(CHAIN_WIDTH))
            n_out = 10 if k == len(layers) - 1 else CHAIN_WIDTH
            mods.append(
                qnn.QuantLinear(
                    n_in, n_out, bias=False, weight_bit_width=w, weight_narrow_range=narrow
                )
            )
            n_in = n_out
        self.body = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)  # (B, 32) -> (B, 10)


class XnorMlp(nn.Module):
    """W1A1: bipolar input, two hidden XNOR layers of 32 and a bipolar-weight classifier."""

    def __init__(self) -> None:
        from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst

        super().__init__()
        mods: list[nn.Module] = []
        n_in = FRAME[0]
        for n_out in (32, 32):
            mods += [
                qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst),
                qnn.QuantLinear(
                    n_in, n_out, bias=False, weight_quant=SignedBinaryWeightPerTensorConst
                ),
                nn.BatchNorm1d(n_out),
            ]
            n_in = n_out
        mods += [
            qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst),
            qnn.QuantLinear(n_in, 10, bias=False, weight_quant=SignedBinaryWeightPerTensorConst),
        ]
        self.body = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)  # (B, 32) -> (B, 10)


def export(model: nn.Module, out_dir: Path, seed: int = 0) -> Path:
    """Randomize BN, switch to eval and export ``model`` to ``out_dir/model.onnx``."""
    randomize_batchnorm(model, seed + 1, mean_std=0.5)
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "model.onnx"
    export_qonnx(model, torch.rand(1, *FRAME), export_path=str(path))
    return path
