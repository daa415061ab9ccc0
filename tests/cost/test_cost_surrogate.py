"""The surrogate equals the discrete model at one-hot rows; gradients have the FD sign."""

from __future__ import annotations

import itertools

import pytest
import torch

from codesign.cost.analytic import AnalyticCostModel
from codesign.cost.network import network_layers
from codesign.cost.protocol import Candidate, CostSurrogate, Impl
from codesign.cost.surrogate import Normalizer, PairwiseSurrogate
from codesign.models.arch import CnnArch, StageSpec
from codesign.models.bits import BitConfig, LayerBits
from codesign.resources import Resources

ARCH = CnnArch(stages=(StageSpec(8, 3, 2), StageSpec(16, 3, 2)), num_classes=4, input_size=12)
CANDS = [Candidate(w, a, i) for w in (2, 4, 8) for a in (2, 4) for i in (Impl.DSP, Impl.LUT)]
NORM = Normalizer.for_capacity(Resources(lut=53200, dsp=220, bram18=280))


@pytest.fixture(scope="module")
def surrogate() -> PairwiseSurrogate:
    cands = [CANDS, CANDS, [c for c in CANDS if c.act == 2]]
    return PairwiseSurrogate(
        AnalyticCostModel(), ARCH, cands, input_bits=8, target_cycles=2000, normalizer=NORM
    )


def test_protocol_and_dsp_weight() -> None:
    assert NORM.dsp_lut == pytest.approx(53200 / 220)


def test_one_hot_equals_discrete_and_the_stitched_design(surrogate: PairwiseSurrogate) -> None:
    assert isinstance(surrogate, CostSurrogate)
    model = AnalyticCostModel()
    sizes = [len(c) for c in surrogate.candidates]
    for choice in itertools.islice(itertools.product(*map(range, sizes)), 0, None, 7):
        probs = [
            torch.nn.functional.one_hot(torch.tensor(c), n).double()
            for c, n in zip(choice, sizes, strict=True)
        ]
        got = surrogate.expected(probs).item()
        assert got == pytest.approx(surrogate.discrete(choice), rel=1e-12)
        cands = [surrogate.candidates[i][c] for i, c in enumerate(choice)]
        bits = BitConfig(
            8, tuple(LayerBits(c.weight, c.act if i < 2 else None) for i, c in enumerate(cands))
        )
        specs = network_layers(ARCH, bits, target_cycles=2000, impl=[c.impl for c in cands])
        assert got == pytest.approx(NORM(model.design_cost(specs).resources), rel=1e-9)


def test_batched_and_gradient_sign_matches_finite_differences(
    surrogate: PairwiseSurrogate,
) -> None:
    gen = torch.Generator().manual_seed(0)
    logits = [
        torch.randn(3, len(c), generator=gen, dtype=torch.float64, requires_grad=True)
        for c in surrogate.candidates
    ]
    cost = surrogate.expected([torch.softmax(x, -1) for x in logits])
    assert cost.shape == (3,)
    cost.sum().backward()
    eps = 1e-6
    checked = 0
    for i, x in enumerate(logits):
        for j in range(x.shape[1]):
            bumped = [y.detach().clone() for y in logits]
            bumped[i][:, j] += eps
            lower = [y.detach().clone() for y in logits]
            lower[i][:, j] -= eps
            fd = (
                surrogate.expected([torch.softmax(y, -1) for y in bumped])
                - surrogate.expected([torch.softmax(y, -1) for y in lower])
            ).sum() / (2 * eps)
            grad = x.grad[:, j].sum()
            if abs(fd) > 1e-9:
                assert torch.sign(grad) == torch.sign(fd)
                assert grad.item() == pytest.approx(fd.item(), rel=1e-4)
                checked += 1
    assert checked > 10


def test_surrogate_for_board_uses_the_board() -> None:
    from codesign.cost.surrogate import surrogate_for_board

    cands = [CANDS[:4], CANDS[:4], [c for c in CANDS[:4] if c.act == 2]]
    sur = surrogate_for_board(ARCH, cands, board="pynq-z2", fps=50_000)
    assert sur.target_cycles == 2000
    assert sur.normalizer.dsp_lut == pytest.approx(53200 / 220)
    cheap, dear = sur.discrete([0, 0, 0]), sur.discrete([2, 2, 0])  # W2 vs W4 weights
    assert 0 < cheap < dear < 1
