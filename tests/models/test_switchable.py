"""Switchable-precision CNN: shared weights, per-bit-width state, per-sample mixing, freeze."""

from __future__ import annotations

import pytest
import torch

from codesign.errors import ConfigError
from codesign.models.arch import QUICKSTART_ARCH, CnnArch, StageSpec
from codesign.models.bits import LayerBits
from codesign.models.switchable import SwitchableCNN, SwitchSpace

PAIRS = [(2, 2), (4, 4), (8, 8)]


def _trained(arch: CnnArch, space: SwitchSpace, x: torch.Tensor, seed: int = 0) -> SwitchableCNN:
    """A switchable net after a few mixed-precision steps (BN stats and act scales move)."""
    torch.manual_seed(seed)
    net = SwitchableCNN(arch, space)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(3):
        choice = torch.stack(
            [torch.randint(0, n, (x.shape[0],), generator=gen) for n in space.sizes], dim=1
        )  # (B, L)
        loss = net(x, choice).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def test_weights_are_shared_and_state_is_per_bit_width(fashion_images):
    space = SwitchSpace.uniform(QUICKSTART_ARCH, PAIRS)
    net = _trained(QUICKSTART_ARCH, space, fashion_images[:32])
    layer = net.layers[0]
    assert all(opt.conv.weight is layer.weight for opt in layer.options)
    # one float weight set: parameters = shared weights + per-option BN affine + act scales
    n_weights = sum(layer.weight.numel() for layer in net.layers)
    assert sum(p.numel() for p in net.parameters()) < n_weights * 1.2
    bn_means = [opt.bn.running_mean for opt in layer.options]
    assert not torch.equal(bn_means[0], bn_means[2])  # statistics per bit-width
    scales = [float(opt.act.act_quant.scale()) for opt in layer.options]
    assert len(set(scales)) == 3  # clipping level per bit-width


@pytest.mark.parametrize("choice", [[0, 0, 0, 0], [2, 2, 2, 2], [0, 1, 2, 1], [2, 0, 1, 0]])
def test_freeze_equals_switchable_exactly(fashion_images, choice):
    space = SwitchSpace.uniform(QUICKSTART_ARCH, PAIRS)
    net = _trained(QUICKSTART_ARCH, space, fashion_images[:32])
    plain = net.freeze(choice)
    assert plain.bits == space.config(choice)
    x = fashion_images[32:96]
    with torch.no_grad():
        want = plain(x)
        got = net(x, torch.tensor(choice))
    assert torch.equal(want, got)
    assert want.std() > 0


def test_samples_of_one_batch_run_at_their_own_precision(fashion_images):
    space = SwitchSpace.uniform(QUICKSTART_ARCH, PAIRS)
    net = _trained(QUICKSTART_ARCH, space, fashion_images[:32])
    x = fashion_images[:48]
    gen = torch.Generator().manual_seed(3)
    choice = torch.randint(0, 3, (48, 4), generator=gen)  # (B, L)
    with torch.no_grad():
        out = net(x, choice)
        for b in range(0, 48, 7):
            # the frozen model on the same batch: conv kernels may round differently per
            # batch size, so compare row b of a same-size batch
            ref = net.freeze(choice[b].tolist())(x)[b]
            assert torch.equal(out[b], ref), b
        # and precision matters: the same images at W2A2 differ from W8A8
        low, high = torch.zeros(4, dtype=torch.long), torch.full((4,), 2)
        assert not torch.equal(net(x, low), net(x, high))


def test_gate_carries_gradient_and_keeps_values(fashion_images):
    space = SwitchSpace.uniform(QUICKSTART_ARCH, PAIRS)
    net = _trained(QUICKSTART_ARCH, space, fashion_images[:16])
    x = fashion_images[:8]
    choice = torch.ones(8, 4, dtype=torch.long)
    soft = torch.full((8, 4), 0.3, requires_grad=True)
    gate = 1.0 - soft.detach() + soft  # straight-through: value 1, gradient 1
    out = net(x, choice, gate)
    assert torch.equal(out, net(x, choice))
    out.sum().backward()
    assert soft.grad is not None and soft.grad.abs().sum() > 0


def test_per_layer_candidate_sets_and_bad_input():
    arch = CnnArch(stages=(StageSpec(4, stride=2),), num_classes=4, input_size=8)
    space = SwitchSpace(4, ((LayerBits(2, 3), LayerBits(4, 4)), (LayerBits(3), LayerBits(6))))
    net = SwitchableCNN(arch, space)
    assert net.freeze([1, 0]).bits.describe() == "in4 W4A4 W3"
    assert space.lowest() == [0, 0] and space.highest() == [1, 1]
    assert SwitchSpace.from_dict(space.to_dict()) == space
    with pytest.raises(ConfigError, match="candidate index 2 is outside 0..1"):
        space.config([2, 0])
    with pytest.raises(ConfigError, match="bit-width 7 is not allowed"):
        SwitchSpace.uniform(arch, [(7, 4)])
    with pytest.raises(ConfigError, match="switch space has 2 layer"):
        SwitchSpace.uniform(arch, [(4, 4)]).validate(QUICKSTART_ARCH)
