"""Additive per-layer cost tables behind the ``CostSurrogate`` protocol (``codesign.cost``).

:class:`TableSurrogate` prices candidate ``j`` of layer ``i`` at ``table[i][j]`` (normalized
to a budget) and a distribution at the expectation ``sum_i p_i . table_i``, which is exact at
one-hot rows. Two tables are built here:

* :func:`bitops_surrogate`: the interim hardware proxy used until the calibrated surrogate
  of :mod:`codesign.cost` is available: multiply-accumulates x weight bits x activation bits
  per layer, normalized so that the all-8-bit network costs 1.0. A LUT-based MVU's area
  grows roughly with ``w x a`` per MAC lane, which is why bit-operations are the usual proxy.
* :func:`mean_bits_surrogate`: the mean of ``(w + a) / 2`` over layers, in bits: the
  DQNet-style budget, which ignores where in the network the bits are spent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from codesign.cost.protocol import Candidate, Impl
from codesign.errors import ConfigError

if TYPE_CHECKING:
    from codesign.cost.protocol import CostSurrogate
    from codesign.models.arch import CnnArch
    from codesign.models.switchable import SwitchSpace

__all__ = [
    "DesignPricer",
    "TableSurrogate",
    "analytic_surrogate",
    "bitops_surrogate",
    "layer_macs",
    "mean_bits_surrogate",
]


class TableSurrogate:
    """A cost surrogate that is additive over layers: one number per (layer, candidate).

    Attributes:
        version: Names the table (kept in checkpoints).
        candidates: Per layer, the candidates the table prices.
        table: Per layer, one cost per candidate.
    """

    def __init__(
        self,
        candidates: Sequence[Sequence[Candidate]],
        table: Sequence[Sequence[float]],
        version: str,
    ) -> None:
        """Check shapes and keep the table.

        Raises:
            ConfigError: The table does not match the candidates.
        """
        self.candidates = tuple(tuple(c) for c in candidates)
        if [len(c) for c in self.candidates] != [len(t) for t in table]:
            raise ConfigError("cost table shape does not match the candidates per layer")
        self.table = [torch.tensor(list(t), dtype=torch.float32) for t in table]
        self.version = version

    def expected(self, probs: Sequence[Tensor]) -> Tensor:
        """``sum_i probs[i] @ table[i]``: ``(..., K_i)`` rows -> ``(...)``."""
        return sum(p @ t.to(p.dtype) for p, t in zip(probs, self.table, strict=True))  # type: ignore[return-value]

    def discrete(self, choice: Sequence[int]) -> float:
        """The table sum of one choice."""
        return float(sum(t[int(c)] for t, c in zip(self.table, choice, strict=True)))


def candidates_of(space: SwitchSpace, impl: Impl = Impl.DSP) -> tuple[tuple[Candidate, ...], ...]:
    """The protocol's :class:`Candidate` per layer of a switch space, all with ``impl``.

    Where the space switches the input width with the first layer, its candidates carry it.
    """
    switched = space.input_options is not None
    return tuple(
        tuple(
            Candidate(c.weight, c.act, impl, space.input_of(j) if i == 0 and switched else None)
            for j, c in enumerate(layer)
        )
        for i, layer in enumerate(space.candidates)
    )


def layer_macs(arch: CnnArch) -> list[int]:
    """Multiply-accumulates per frame of every weight layer (convs, then the classifier)."""
    macs, cin = [], arch.in_channels
    for stage, size in zip(arch.stages, arch.feature_sizes(), strict=True):
        macs.append(stage.kernel**2 * cin * stage.channels * size * size)
        cin = stage.channels
    macs.append(arch.classifier_in_features * arch.num_classes)
    return macs


def bitops_surrogate(arch: CnnArch, space: SwitchSpace) -> TableSurrogate:
    """MACs x weight bits x output-activation bits, normalized to the all-8-bit network.

    The classifier's activation factor is its input's (taken as 8 bits, the worst case).
    """
    macs = layer_macs(arch)
    budget = float(sum(m * 64 for m in macs))
    table = [
        [m * c.weight * (c.act if c.act is not None else 8) / budget for c in layer]
        for m, layer in zip(macs, space.candidates, strict=True)
    ]
    return TableSurrogate(candidates_of(space), table, version="bitops-interim-1")


def mean_bits_surrogate(space: SwitchSpace) -> TableSurrogate:
    """Mean over layers of ``(weight + act) / 2`` bits (the classifier counts its weight)."""
    n = space.n_layers
    table = [
        [(c.weight + (c.act if c.act is not None else c.weight)) / 2.0 / n for c in layer]
        for layer in space.candidates
    ]
    return TableSurrogate(candidates_of(space), table, version="mean-bits-1")


def analytic_surrogate(
    arch: CnnArch,
    space: SwitchSpace,
    board: str = "pynq-z2",
    fps: float = 10_000.0,
    impl: Impl = Impl.DSP,
) -> CostSurrogate:
    """The cost model's differentiable surrogate (``codesign.cost``) for ``board`` at ``fps``.

    Costs are the board-normalized resources of the folded design (1.0 = the whole board),
    from the best calibration available for the board's family (``load_cost_model``), with
    every MVU implemented as ``impl`` (``lut``: LUT-based MVUs, where bits move LUTs).
    """
    from codesign.cost.surrogate import surrogate_for_board  # noqa: PLC0415

    return surrogate_for_board(
        arch, candidates_of(space, impl), board=board, fps=fps, input_bits=space.input_bits
    )


class DesignPricer:
    """LUT, DSP, BRAM18 and cycles per frame of a static choice, from the cost model.

    Memoized per choice: pricing a design folds it and prices every node, a few ms.
    """

    def __init__(
        self,
        arch: CnnArch,
        space: SwitchSpace,
        board: str = "pynq-z2",
        fps: float = 10_000.0,
        impl: Impl = Impl.DSP,
    ) -> None:
        """Load the board's best cost model; every MVU is priced as ``impl``."""
        from codesign.boards import load_board  # noqa: PLC0415
        from codesign.cost.calibration import load_cost_model  # noqa: PLC0415

        self.arch, self.space, self.fps, self.impl = arch, space, fps, impl
        self.board = load_board(board)
        self.model = load_cost_model(str(self.board.family))
        self.version = self.model.version
        self._memo: dict[tuple[int, ...], dict[str, float]] = {}

    def price(self, choice: Sequence[int]) -> dict[str, float]:
        """``{"lut", "dsp", "bram18", "cycles"}`` of the design at ``choice``."""
        from codesign.cost.network import network_layers  # noqa: PLC0415

        key = tuple(int(c) for c in choice)
        if key not in self._memo:
            bits = self.space.config(key)
            specs = network_layers(
                self.arch,
                bits,
                fps=self.fps,
                clock_ns=float(self.board.clock_ns),
                impl=[self.impl] * self.arch.n_layers,
            )
            cost = self.model.design_cost(specs)
            r = cost.resources
            self._memo[key] = {
                "lut": float(r.lut),
                "dsp": float(r.dsp),
                "bram18": float(r.bram18),
                "cycles": float(cost.cycles),
            }
        return self._memo[key]
