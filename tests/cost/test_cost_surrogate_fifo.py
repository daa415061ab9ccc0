"""The surrogate's opt-in FIFO-sizing term prices what network_layers(fifo_sizing=True) does."""

from __future__ import annotations

import itertools

import pytest

from codesign.boards import load_board
from codesign.cost.calibration import load_cost_model
from codesign.cost.network import network_layers
from codesign.cost.protocol import Candidate, Impl
from codesign.cost.surrogate import Normalizer, surrogate_for_board
from codesign.models.arch import QUICKSTART_ARCH
from codesign.models.bits import BitConfig, LayerBits


def test_fifo_sizing_surrogate_matches_the_sized_network_price() -> None:
    arch, fps = QUICKSTART_ARCH, 5000.0
    board = load_board("pynq-z2")
    model = load_cost_model("xc7")
    norm = Normalizer.for_capacity(board.capacity)
    cands = [[Candidate(2, 2, Impl.DSP), Candidate(8, 8, Impl.LUT)]] * arch.n_layers
    sized = surrogate_for_board(
        arch, cands, board="pynq-z2", fps=fps, model=model, fifo_sizing=True
    )
    plain = surrogate_for_board(arch, cands, board="pynq-z2", fps=fps, model=model)
    for choice in itertools.islice(itertools.product((0, 1), repeat=arch.n_layers), 0, None, 3):
        cs = [cands[i][k] for i, k in enumerate(choice)]
        bits = BitConfig(
            8, tuple(LayerBits(c.weight, c.act if i < arch.n_layers - 1 else None)
                     for i, c in enumerate(cs))
        )  # fmt: skip
        specs = network_layers(
            arch, bits, fps=fps, clock_ns=board.clock_ns, impl=[c.impl for c in cs],
            fifo_sizing=True,
        )  # fmt: skip
        want = norm(model.design_cost(specs).resources)
        assert sized.discrete(list(choice)) == pytest.approx(want, rel=1e-9)
        assert sized.discrete(list(choice)) > plain.discrete(list(choice))  # deeper FIFOs
