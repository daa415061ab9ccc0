"""The input width switched with the first layer: space, per-sample input grids, freeze, price."""

from __future__ import annotations

import pytest
import torch

from codesign.cost.protocol import Impl
from codesign.errors import ConfigError
from codesign.models.arch import QUICKSTART_ARCH
from codesign.models.switchable import SwitchableCNN, SwitchSpace
from codesign.policy.costs import DesignPricer, analytic_surrogate, candidates_of

PAIRS = [(3, 3), (4, 4)]


def _space() -> SwitchSpace:
    return SwitchSpace.uniform(QUICKSTART_ARCH, PAIRS, input_bits=8, input_candidates=[8, 4])


def test_space_pairs_every_input_width_with_the_first_layer():
    space = _space()
    assert space.sizes == (4, 2, 2, 2)
    assert space.input_options == (4, 4, 8, 8)  # ordered by input width
    assert [space.config([j, 0, 0, 0]).input_bits for j in range(4)] == [4, 4, 8, 8]
    assert space.lowest() == [0, 0, 0, 0] and space.highest() == [3, 1, 1, 1]
    assert space.uniform_pairs() == [(3, 3), (4, 4)]
    assert SwitchSpace.from_dict(space.to_dict()) == space
    assert "input_options" not in SwitchSpace.uniform(QUICKSTART_ARCH, PAIRS).to_dict()
    with pytest.raises(ConfigError, match="input_bits 8 is not among the input candidates"):
        SwitchSpace.uniform(QUICKSTART_ARCH, PAIRS, input_bits=8, input_candidates=[2, 4])
    with pytest.raises(ConfigError, match="2 input widths for 4 first-layer candidates"):
        SwitchSpace(8, _space().candidates, (4, 8))


def test_each_sample_reads_its_own_input_grid_and_freezes_exactly(fashion_images):
    space = _space()
    torch.manual_seed(0)
    net = SwitchableCNN(QUICKSTART_ARCH, space)
    x = fashion_images[:32] * 0.3 + 0.35  # lower contrast: 4 bits lose detail
    every = torch.stack([torch.arange(32) % n for n in space.sizes], dim=1)  # (B, L)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    net.train()
    for _ in range(3):  # BN statistics and activation scales of every option move
        loss = net(x, every).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    assert net.uniform_choice(4, 4) == [3, 1, 1, 1]  # uniform baselines read input_bits
    choice = torch.tensor([[j, 1, 0, 1] for j in (0, 1, 2, 3)] * 8)  # (32, L)
    with torch.no_grad():
        out = net(x, choice)
        for b in range(4):
            plain = net.freeze(choice[b].tolist())
            assert plain.bits.input_bits == (4 if b < 2 else 8)
            assert torch.equal(plain(x)[b], out[b]), b  # row b of a same-size batch
        # the same conv/BN option at 4 vs 8 input bits: different inputs, different outputs
        in4 = net(x, torch.tensor([1, 1, 0, 1]))
        in8 = net(x, torch.tensor([3, 1, 0, 1]))
    assert in4.std() > 0 and not torch.equal(in4, in8)
    soft = [torch.eye(n)[c] for n, c in zip(space.sizes, [1, 1, 0, 1], strict=True)]
    with torch.no_grad():  # the soft mix at one-hot probabilities is the hard choice
        assert torch.allclose(net.forward_soft(x, [p.expand(32, -1) for p in soft]), in4)


def test_input_width_is_priced_like_the_design():
    space = _space()
    assert [c.input_bits for c in candidates_of(space)[0]] == [4, 4, 8, 8]
    sur = analytic_surrogate(QUICKSTART_ARCH, space, impl=Impl.LUT)
    pricer = DesignPricer(QUICKSTART_ARCH, space, impl=Impl.LUT)
    fixed = analytic_surrogate(QUICKSTART_ARCH, SwitchSpace.uniform(QUICKSTART_ARCH, PAIRS),
                               impl=Impl.LUT)  # fmt: skip
    # at 8 input bits the switched surrogate prices exactly like the fixed-input one
    for c in ([2, 0, 0, 0], [3, 1, 1, 1], [2, 1, 0, 1]):
        assert sur.discrete(c) == pytest.approx(fixed.discrete([c[0] - 2, *c[1:]]), rel=1e-12)
    lut4, lut8 = pricer.price([1, 1, 1, 1])["lut"], pricer.price([3, 1, 1, 1])["lut"]
    assert lut4 < 0.95 * lut8  # a narrower input stream: SWG and first MVU
    assert sur.discrete([1, 1, 1, 1]) < sur.discrete([3, 1, 1, 1])
    per_lut = sur.discrete([3, 1, 1, 1]) / lut8  # normalized cost per LUT (0 DSP here)
    assert sur.discrete([1, 1, 1, 1]) == pytest.approx(per_lut * lut4, rel=0.02)
