"""The cheap leave-one-out probe: each option quantizes its weight once per step, and images
whose second sample repeats the first are not run; neither changes a value."""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812

from codesign.policy.options import PgReward
from codesign.policy.policy import GumbelSample
from codesign.train.dqmq import _probe_reward, _reward
from tests.train.test_dqmq import ARCH, SPACE, CountingSurrogate, _data


def _net():
    from codesign.models.switchable import SwitchableCNN  # noqa: PLC0415

    torch.manual_seed(0)
    return SwitchableCNN(ARCH, SPACE).train()


def _sample(index: torch.Tensor) -> GumbelSample:
    hard = [F.one_hot(index[:, i], k).float() for i, k in enumerate(SPACE.sizes)]
    return GumbelSample(index, torch.ones(index.shape), hard, torch.zeros(index.shape[0]))


def test_weights_once_gives_the_same_outputs_and_gradients_with_fewer_quantizations():
    x, y, _ = _data(32)
    gen = torch.Generator().manual_seed(1)
    first = torch.randint(0, 3, (32, SPACE.n_layers), generator=gen)
    second = torch.randint(0, 3, (32, SPACE.n_layers), generator=gen)
    results = []
    for once in (False, True):
        net = _net()
        calls = []
        for layer in net.layers:
            for m in layer.weight_layers():
                m.weight_quant.register_forward_hook(lambda *_, c=calls: c.append(1))
        if once:
            with net.weights_once():
                loss = F.cross_entropy(net(x, first), y)
                with torch.no_grad():
                    probe = net(x, second)
        else:
            loss = F.cross_entropy(net(x, first), y)
            with torch.no_grad():
                probe = net(x, second)
        loss.backward()
        grads = [p.grad.clone() for p in net.parameters() if p.grad is not None]
        results.append((loss.detach(), probe, grads, len(calls)))
        assert not any("quant_weight" in vars(m) for layer in net.layers
                       for m in layer.weight_layers())  # fmt: skip  # restored on exit
    (l0, p0, g0, n0), (l1, p1, g1, n1) = results
    assert torch.equal(l0, l1) and torch.equal(p0, p1)
    assert len(g0) == len(g1) and all(torch.equal(a, b) for a, b in zip(g0, g1, strict=True))
    assert n0 == 2 * sum(SPACE.sizes) and n1 == sum(SPACE.sizes)  # every option ran twice


def test_probe_skips_repeated_samples_and_otherwise_equals_a_plain_forward():
    x, y, _ = _data(32)
    sur = CountingSurrogate(SPACE.sizes)
    gen = torch.Generator().manual_seed(2)
    choice = torch.randint(0, 3, (32, SPACE.n_layers), generator=gen)
    reward = torch.randn(32, generator=gen)
    same = _probe_reward(_net(), x, y, choice, _sample(choice.clone()), reward, sur,
                         PgReward.NLL, 0.5)  # fmt: skip
    assert torch.equal(same, reward)  # nothing ran: the term is zero whatever R2 is

    other = (choice + 1) % 3  # every image differs: the whole batch runs
    net = _net()
    got = _probe_reward(net, x, y, choice, _sample(other), reward, sur, PgReward.NLL, 0.5)
    with torch.no_grad():
        want, _ = _reward(_net()(x, other), y, _sample(other).hard, sur, PgReward.NLL, 0.5)
    assert torch.equal(got, want)

    half = other.clone()
    half[::2] = choice[::2]  # even images repeat their first sample
    got = _probe_reward(_net(), x, y, choice, _sample(half), reward, sur, PgReward.NLL, 0.5)
    assert torch.equal(got[::2], reward[::2])
    with torch.no_grad():  # the odd ones ran as one sub-batch
        sub, _ = _reward(_net()(x[1::2], half[1::2]), y[1::2],
                         [h[1::2] for h in _sample(half).hard], sur, PgReward.NLL, 0.5)  # fmt: skip
    assert torch.equal(got[1::2], sub)
