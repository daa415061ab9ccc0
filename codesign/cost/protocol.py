"""What training, search and sweeps may ask of a cost model (and nothing more).

A cost model prices layers and designs in :class:`~codesign.resources.Resources` and cycles.
A differentiable surrogate prices a *distribution* over per-layer bit-width candidates as a
torch expression, so that a bit-width policy can be trained against hardware cost. Both are
protocols: a FINN-R analytic model, a Yosys-calibrated one or a Vivado-calibrated one can
stand behind them, and their users never import an implementation.

This module is torch-free at import time; ``Tensor`` appears only in annotations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from codesign.resources import Resources

if TYPE_CHECKING:
    from torch import Tensor

    from codesign.models.bits import Precision

__all__ = [
    "Candidate",
    "CostModel",
    "CostSurrogate",
    "DesignCost",
    "Impl",
    "LayerCost",
    "LayerKind",
    "LayerSpec",
]


class Impl(StrEnum):
    """How a matrix-vector unit multiplies: finn-plus's DSP-based RTL MVU, or LUT logic."""

    DSP = "dsp"
    LUT = "lut"


class LayerKind(StrEnum):
    """The dataflow node kinds a cost model prices (FINN's names, lower case)."""

    MVAU = "mvau"  # a conv (after its sliding window) or a linear layer
    VVAU = "vvau"  # depthwise
    THRESHOLDING = "thresholding"
    SWG = "swg"  # ConvolutionInputGenerator
    FMPADDING = "fmpadding"
    DWC = "dwc"  # StreamingDataWidthConverter
    FIFO = "fifo"
    POOL = "pool"


@dataclass(frozen=True)
class LayerSpec:
    """One dataflow node as a cost model sees it: shape, precisions and folding.

    Attributes:
        name: Node name (e.g. ``MVAU_rtl_0``), for tables and provenance.
        kind: The node kind.
        mw: Matrix width (input length of one dot product: ``k*k*cin`` for a conv).
        mh: Matrix height (output channels).
        vectors: Matrix-vector products per frame (output pixels of a conv, 1 for linear).
        weight: Weight precision (``None`` for nodes without weights).
        act_in: Input activation precision.
        act_out: Output precision (after thresholding), ``None`` when not quantized.
        pe: Output parallelism.
        simd: Input parallelism.
        impl: DSP or LUT multiplication (matrix-vector units only).
        extra: Kind-specific figures a model may need (stream width, FIFO depth,
            kernel, accumulator bits...), as plain numbers.
    """

    name: str
    kind: LayerKind
    mw: int
    mh: int
    vectors: int
    weight: Precision | None
    act_in: Precision
    act_out: Precision | None
    pe: int = 1
    simd: int = 1
    impl: Impl = Impl.DSP
    extra: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class LayerCost:
    """The price of one layer, with the terms it is the sum of (printable, per resource)."""

    resources: Resources
    cycles: int
    terms: tuple[tuple[str, Resources], ...] = ()


@dataclass(frozen=True)
class DesignCost:
    """The price of a whole design: summed layers plus stitching overhead."""

    resources: Resources
    cycles: int  # the bottleneck's cycles per frame
    layers: tuple[LayerCost, ...] = field(default=())

    def fps(self, clock_mhz: float) -> float:
        """Frames per second at ``clock_mhz``: clock / bottleneck cycles."""
        return clock_mhz * 1e6 / max(1, self.cycles)


@runtime_checkable
class CostModel(Protocol):
    """Prices layers and designs. ``version`` names the calibration it uses."""

    version: str

    def layer_cost(self, layer: LayerSpec) -> LayerCost:
        """The price of one layer."""
        ...

    def design_cost(self, layers: Sequence[LayerSpec]) -> DesignCost:
        """The price of a design made of ``layers`` (stitching and FIFO overhead included)."""
        ...


@dataclass(frozen=True)
class Candidate:
    """One choice for a weight layer: weight and activation bit-widths and implementation.

    ``act`` is the layer's output activation width (``None`` for the classifier).
    ``input_bits`` (first layer only) is the network input's width when the input quantizer
    is switched with the first layer; ``None``: the surrogate's fixed input width.
    """

    weight: int
    act: int | None
    impl: Impl = Impl.DSP
    input_bits: int | None = None


@runtime_checkable
class CostSurrogate(Protocol):
    """The differentiable bit-cost term of training.

    Built for one network, board and FPS target, with ``candidates[i]`` the choices of
    weight layer ``i``. ``expected`` takes one probability tensor per layer, shaped
    ``(..., len(candidates[i]))`` (rows summing to one; the leading dims are free, e.g. the
    batch), and returns the expected design cost shaped ``(...)``, normalized to the
    board's budget (1.0 = the whole budget). At one-hot rows it equals ``discrete``.
    """

    version: str
    candidates: tuple[tuple[Candidate, ...], ...]

    def expected(self, probs: Sequence[Tensor]) -> Tensor:
        """Expected normalized design cost; gradients flow into ``probs``."""
        ...

    def discrete(self, choice: Sequence[int]) -> float:
        """Normalized cost of one choice (an index into ``candidates[i]`` per layer)."""
        ...
