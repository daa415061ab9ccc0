"""Brevitas quantizer recipes of the CNN family, declared once.

A layer gets its bit-width as a keyword override (``weight_bit_width=...`` for weights,
``bit_width=...`` for activations); the recipe classes are never edited at run time.

* :class:`WeightQuant`: signed, *narrow-range* (``[-(2^(b-1)-1), 2^(b-1)-1]``), per-tensor
  float scale from the weights' max-abs. The xc7 (DSP48E1) ``MVAU_rtl`` needs narrow weights.
* :class:`ActQuant`: unsigned (after ReLU), per-tensor learned float scale initialised from
  ``max_val``. FINN turns it (with the BatchNorm before it) into a ``Thresholding_rtl`` node.
* :class:`InputQuant`: unsigned with a *constant* threshold of 1.0, so the scale is
  ``1 / (2^b - 1)`` and an image in ``[0, 1]`` maps to the integers ``0 .. 2^b - 1``. The
  dataflow input is then a plain ``UINT<b>`` and the host packs it exactly with
  :func:`quantize_input`; for ``b = 8`` the integer is the raw ``uint8`` pixel.
"""

from __future__ import annotations

import torch
from brevitas.core.scaling import ScalingImplType
from brevitas.quant.base import PerTensorFloatScaling8bit, UintQuant
from brevitas.quant.scaled_int import Int8WeightPerTensorFloat, Uint8ActPerTensorFloatMaxInit
from brevitas.quant.solver import ActQuantSolver
from torch import Tensor

__all__ = ["ActQuant", "InputQuant", "WeightQuant", "input_scale", "quantize_input"]


class WeightQuant(Int8WeightPerTensorFloat):
    """Narrow-range signed weights, per-tensor max-abs float scale (override the bit-width)."""

    narrow_range = True
    signed = True


class ActQuant(Uint8ActPerTensorFloatMaxInit):
    """Unsigned ReLU activations, learned per-tensor scale initialised to ``max_val / (2^b-1)``.

    The initial range 0..4 covers a BatchNorm-normalised, ReLU-clipped activation; training
    learns the scale. Parameter (not runtime-statistics) scaling keeps train and eval forwards
    identical from the first step, so an untrained model exports the scale it computes with.
    """

    max_val = 4.0
    min_val = 0.0


class InputQuant(UintQuant, PerTensorFloatScaling8bit, ActQuantSolver):
    """Unsigned input with the constant scale ``1 / (2^b - 1)`` (override ``bit_width``).

    With ``CONST`` scaling Brevitas takes the threshold from ``max_val`` and never learns it.
    """

    scaling_impl_type = ScalingImplType.CONST
    min_val = 0.0
    max_val = 1.0


def input_scale(bits: int) -> float:
    """The constant input scale ``1 / (2^bits - 1)`` that :class:`InputQuant` applies."""
    return 1.0 / (2**bits - 1)


def quantize_input(images: Tensor, bits: int) -> Tensor:
    """Map images in ``[0, 1]`` to the integers the dataflow input receives.

    This is what :class:`InputQuant` computes (clamp, then round half to even), done on the
    host: the result times :func:`input_scale` equals the Brevitas input quantizer's output.

    Args:
        images: Float images in ``[0, 1]``, any shape, e.g. ``(B, 1, 28, 28)``.
        bits: The input bit-width.

    Returns:
        An ``int64`` tensor of the same shape with values in ``[0, 2^bits - 1]``.
    """
    qmax = 2**bits - 1
    scale = torch.tensor(1.0, dtype=torch.float32) / qmax  # same float32 division as Brevitas
    ints = torch.round(images.to(torch.float32) / scale)  # (same shape as images)
    return torch.clamp(ints, 0, qmax).to(torch.int64)
