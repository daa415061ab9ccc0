"""The differentiable bit-cost term: expected normalized design cost of per-layer choices.

For a family network, a board and a throughput target, every weight layer ``i`` has
candidates ``(weight bits, activation bits, impl)``. The nodes compile makes of layer ``i``
(its padding, sliding window, width converters, FIFOs, MVU and thresholds) depend only on
layer ``i``'s candidate and on the activation width of layer ``i - 1`` (its input). So the
design cost is a sum of pairwise tables::

    cost(c) = const + sum_i T_i[c_{i-1}, c_i]

and, with independent per-layer distributions ``p_i``, its expectation is exactly
``const + sum_i p_{i-1}^T T_i p_i``: a torch expression that equals the discrete cost at
one-hot rows and whose gradients flow into every ``p_i``.

Normalization to the board's budget (1.0 = the whole budget)::

    cost = (LUT + dsp_lut * DSP + bram_lut * BRAM18) / LUT_capacity

with ``dsp_lut = LUT_capacity / DSP_capacity`` by default: one DSP is worth the share of
the board's LUTs that it is of the board's DSPs (xc7z020: 53,200 / 220 = 241.8 LUT per
DSP), so a design using every LUT or every DSP scores 1.0 either way. ``bram_lut`` is 0 by
default (BRAM is rarely the binding resource of these designs); pass
``bram_lut=LUT/BRAM18`` to count it the same way.

Folding: each layer is folded for the given cycle target by finn-plus's SetFolding rules
(one pass: the two-pass relaxation couples all layers and is left out; it only acts when
the target is unreachable).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from codesign.cost.protocol import Candidate, CostModel, Impl, LayerKind, LayerSpec
from codesign.errors import ConfigError

if TYPE_CHECKING:
    from torch import Tensor

    from codesign.models.arch import CnnArch
    from codesign.resources import Resources

__all__ = ["Normalizer", "PairwiseSurrogate", "node_groups", "surrogate_for_board"]


@dataclass(frozen=True)
class Normalizer:
    """Turns resources into the normalized design cost (see the module docstring).

    Attributes:
        lut_capacity: The board's LUTs (the unit).
        dsp_lut: LUT-equivalents of one DSP.
        bram_lut: LUT-equivalents of one BRAM18.
    """

    lut_capacity: float
    dsp_lut: float
    bram_lut: float = 0.0

    @classmethod
    def for_capacity(cls, capacity: Resources, bram: bool = False) -> Normalizer:
        """DSPs (and optionally BRAM18) priced at the board's LUT/DSP (LUT/BRAM) ratio."""
        if capacity.lut <= 0:
            raise ConfigError("the board's LUT capacity must be > 0 to normalize costs")
        dsp_lut = capacity.lut / capacity.dsp if capacity.dsp else 0.0
        bram_lut = capacity.lut / capacity.bram18 if (bram and capacity.bram18) else 0.0
        return cls(lut_capacity=float(capacity.lut), dsp_lut=dsp_lut, bram_lut=bram_lut)

    def __call__(self, res: Resources) -> float:
        """The normalized cost of ``res``."""
        return (res.lut + self.dsp_lut * res.dsp + self.bram_lut * res.bram18) / self.lut_capacity


def node_groups(specs: Sequence[LayerSpec]) -> list[int]:
    """The weight layer each node belongs to (-1: the input quantizer).

    A layer's nodes run from the first node after the previous layer's thresholds to its
    own thresholds; width converters and FIFOs belong to the node after them, the last
    FIFO to the last layer.
    """
    groups = []
    g = -1
    prev_kind: LayerKind | None = None
    pending = 0
    for spec in specs:
        if spec.kind in (LayerKind.FIFO, LayerKind.DWC):
            pending += 1
            continue
        if spec.kind is not LayerKind.THRESHOLDING and prev_kind in (
            None,
            LayerKind.THRESHOLDING,
        ):
            g += 1
        if prev_kind is None and spec.kind is LayerKind.THRESHOLDING:
            g = -1
        groups.extend([g] * (pending + 1))
        pending = 0
        prev_kind = spec.kind
    groups.extend([g] * pending)
    return groups


class PairwiseSurrogate:
    """A :class:`~codesign.cost.protocol.CostSurrogate` for one family network.

    Args:
        model: Any cost model (analytic or calibrated).
        arch: The network.
        candidates: Per weight layer, its choices. The classifier's ``act`` is ignored.
        input_bits: The input quantizer's bit-width.
        target_cycles: Cycles per frame the folding aims at (``clock / FPS``).
        normalizer: Resources -> normalized cost.
        mvau_wwidth_max: SetFolding's weight-stream cap.
        fifo_sizing: Price FIFOs at their expected sized depths
            (:func:`codesign.cost.network.expected_fifo_depths`, as ``DesignPricer(...,
            fifo_sizing=True)``); the layers before ``i - 1`` sit at their first candidate
            when layer ``i``'s table is made, so their cycles (the FIFOs' upstream rate)
            are approximated. Default False: unsized FIFOs, as before.

    Raises:
        ConfigError: The candidates do not match the network.
    """

    def __init__(
        self,
        model: CostModel,
        arch: CnnArch,
        candidates: Sequence[Sequence[Candidate]],
        *,
        input_bits: int,
        target_cycles: int,
        normalizer: Normalizer,
        mvau_wwidth_max: int = 36,
        fifo_sizing: bool = False,
    ) -> None:
        import numpy as np

        if len(candidates) != arch.n_layers:
            raise ConfigError(
                f"{len(candidates)} candidate lists for {arch.n_layers} weight layers"
            )
        if any(len(c) == 0 for c in candidates):
            raise ConfigError("every weight layer needs at least one candidate")
        self.model = model
        self.arch = arch
        self.version = model.version
        self.candidates = tuple(tuple(c) for c in candidates)
        self.input_bits = input_bits
        self.target_cycles = int(target_cycles)
        self.normalizer = normalizer
        self.mvau_wwidth_max = mvau_wwidth_max
        self.fifo_sizing = fifo_sizing
        n = arch.n_layers
        # an input width switched with the first layer moves the nodes before it too: their
        # price then goes into the first layer's table instead of the constant
        switched = any(c.input_bits is not None for c in self.candidates[0])
        self.const = 0.0
        self.tables: list[np.ndarray] = []
        for i in range(n):
            rows = self.candidates[i - 1] if i > 0 else (None,)
            table = np.zeros((len(rows), len(self.candidates[i])))
            for j, prev in enumerate(rows):
                for k, cand in enumerate(self.candidates[i]):
                    consts, cost = self._group_costs(i, prev, cand)
                    table[j, k] = cost + (consts if i == 0 and switched else 0.0)
                    if i == 0 and j == 0 and k == 0 and not switched:
                        self.const = consts
            self.tables.append(table)
        self._torch_tables: list[Tensor] | None = None

    def _group_costs(self, i: int, prev: Candidate | None, cand: Candidate) -> tuple[float, float]:
        """(input-quantizer group cost, layer ``i``'s group cost) for one pair."""
        from codesign.cost.network import (
            base_layers,
            expected_fifo_depths,
            insert_dwc_fifo,
            predict_folding,
        )
        from codesign.models.bits import BitConfig, LayerBits

        n = self.arch.n_layers
        layers = []
        impl = []
        chosen = []
        for m in range(n):
            c = cand if m == i else (prev if (m == i - 1 and prev is not None) else None)
            c = c or self.candidates[m][0]
            chosen.append(c)
            act = None if m == n - 1 else c.act
            layers.append(LayerBits(c.weight, act))
            impl.append(c.impl)
        width = chosen[0].input_bits  # the first layer's candidate reads its own input width
        bits = BitConfig(
            input_bits=self.input_bits if width is None else width, layers=tuple(layers)
        )
        specs = base_layers(self.arch, bits, impl)
        specs = predict_folding(specs, self.target_cycles, self.mvau_wwidth_max, relax=False)
        specs = insert_dwc_fifo(specs)
        if self.fifo_sizing:
            specs = expected_fifo_depths(specs)
        groups = node_groups(specs)
        mine = [s for s, g in zip(specs, groups, strict=True) if g == i]
        first = [s for s, g in zip(specs, groups, strict=True) if g == -1]
        return self._price(first), self._price(mine)

    def _price(self, specs: Sequence[LayerSpec]) -> float:
        from codesign.resources import Resources

        lut = dsp = bram = 0.0
        for spec in specs:
            r = self.model.layer_cost(spec).resources
            lut += r.lut
            dsp += r.dsp
            bram += r.bram18
        return self.normalizer(Resources(lut=lut, dsp=dsp, bram18=bram))

    def discrete(self, choice: Sequence[int]) -> float:
        """Normalized cost of one choice per layer (sum of the stitched node prices)."""
        if len(choice) != len(self.tables):
            raise ConfigError(f"{len(choice)} choices for {len(self.tables)} weight layers")
        total = self.const
        prev = 0
        for table, c in zip(self.tables, choice, strict=True):
            total += float(table[prev, c])
            prev = c
        return total

    def expected(self, probs: Sequence[Tensor]) -> Tensor:
        """Expected normalized cost under independent per-layer distributions."""
        import torch

        if len(probs) != len(self.tables):
            raise ConfigError(f"{len(probs)} probability tensors for {len(self.tables)} layers")
        if self._torch_tables is None:
            self._torch_tables = [torch.as_tensor(t, dtype=torch.float64) for t in self.tables]
        total: Tensor | float = self.const
        prev: Tensor | None = None
        for table, p in zip(self._torch_tables, probs, strict=True):
            t = table.to(p.dtype)
            if prev is None:
                term = (p * t[0]).sum(-1)  # (...)
            else:
                term = torch.einsum("...j,jk,...k->...", prev, t, p)
            total = total + term
            prev = p
        assert isinstance(total, torch.Tensor)
        return total

    def choice_bits(self, choice: Sequence[int]) -> tuple[list[tuple[int, int | None]], list[Impl]]:
        """(weight, act) and impl per layer of a choice (for building the network)."""
        bits = [
            (self.candidates[i][c].weight, self.candidates[i][c].act) for i, c in enumerate(choice)
        ]
        return bits, [self.candidates[i][c].impl for i, c in enumerate(choice)]


def surrogate_for_board(
    arch: CnnArch,
    candidates: Sequence[Sequence[Candidate]],
    *,
    board: str,
    fps: float,
    input_bits: int = 8,
    model: CostModel | None = None,
    bram: bool = False,
    fifo_sizing: bool = False,
) -> PairwiseSurrogate:
    """A surrogate for ``arch`` on ``board`` at ``fps``, with the board's best cost model.

    The target is ``floor(f_clk / fps)`` cycles per frame at the board's clock; costs are
    normalized by :meth:`Normalizer.for_capacity` (DSPs at the board's LUT/DSP ratio).
    ``fifo_sizing``: see :class:`PairwiseSurrogate` (default False, unsized FIFOs).

    Raises:
        ConfigError: Unknown board, bad fps or candidates.
    """
    import math

    from codesign.boards import load_board
    from codesign.cost.calibration import load_cost_model

    spec = load_board(board)
    if fps <= 0:
        raise ConfigError(f"fps must be > 0, got {fps:g}")
    target = max(1, math.floor(1e9 / spec.clock_ns / fps))
    return PairwiseSurrogate(
        model or load_cost_model(str(spec.family)),
        arch,
        candidates,
        input_bits=input_bits,
        target_cycles=target,
        normalizer=Normalizer.for_capacity(spec.capacity, bram=bram),
        fifo_sizing=fifo_sizing,
    )
