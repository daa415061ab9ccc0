"""DQMQ: the policy, the hybrid training loop (seeded, resumable), the cost double, tiers."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
import torch

from codesign.cost.protocol import Candidate, CostSurrogate
from codesign.errors import ConfigError
from codesign.models.arch import CnnArch, StageSpec
from codesign.models.switchable import SwitchableCNN, SwitchSpace
from codesign.policy.costs import TableSurrogate, bitops_surrogate, mean_bits_surrogate
from codesign.policy.policy import QualityPolicy, anneal_tau, gumbel_sample
from codesign.policy.tiers import Router, fit_tiers, ranked_choices
from codesign.train.dqmq import DqmqConfig, train_dqmq

ARCH = CnnArch(stages=(StageSpec(4, stride=2),), num_classes=4, input_size=8)
SPACE = SwitchSpace.uniform(ARCH, [(2, 2), (4, 4), (8, 8)], input_bits=4)


class CountingSurrogate:
    """A protocol-conforming test double: cost = candidate index / 10 per layer, counted."""

    version = "test-double-1"

    def __init__(self, sizes):
        self.candidates = tuple(tuple(Candidate(2, 2) for _ in range(k)) for k in sizes)
        self.calls = 0

    def expected(self, probs):
        self.calls += 1
        return sum(p @ (torch.arange(p.shape[-1], dtype=p.dtype) / 10) for p in probs)

    def discrete(self, choice):
        return sum(c / 10 for c in choice)


def _data(n=96, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 8, 8, generator=gen)
    y = torch.randint(0, 4, (n,), generator=gen)
    f = torch.randn(n, 6, generator=gen)
    return x, y, f


def _run(cfg, surrogate=None, resume=None, on_epoch=None):
    torch.manual_seed(cfg.seed)
    net = SwitchableCNN(ARCH, SPACE)
    policy = QualityPolicy(6, SPACE.sizes, cfg.use_quality)
    sur = surrogate or CountingSurrogate(SPACE.sizes)
    x, y, f = _data()
    stats = train_dqmq(net, policy, sur, x, y, f, cfg, resume=resume, on_epoch=on_epoch)
    return net, policy, stats


def test_policy_shapes_uniform_start_and_static_variant():
    policy = QualityPolicy(6, (3, 2))
    f = torch.randn(5, 6)
    probs = policy.probs(f)
    assert [tuple(p.shape) for p in probs] == [(5, 3), (5, 2)]
    assert torch.allclose(probs[0], torch.full((5, 3), 1 / 3))  # zero init: uniform
    assert sum(p.numel() for p in policy.parameters()) == (3 + 2) * (6 + 1)
    with torch.no_grad():
        policy.heads[0].weight.normal_()
    assert not torch.allclose(policy.probs(f)[0][0], policy.probs(f)[0][1])
    static = QualityPolicy(6, (3, 2), use_quality=False)
    static.load_state_dict(policy.state_dict())
    assert torch.equal(static.probs(f)[0][0], static.probs(f)[0][1])  # features ignored


def test_gumbel_straight_through_and_annealing():
    logits = [torch.randn(8, 3, requires_grad=True), torch.randn(8, 2, requires_grad=True)]
    s = gumbel_sample(logits, tau=0.5, gen=torch.Generator().manual_seed(0))
    assert s.index.shape == (8, 2) and torch.equal(s.gate, torch.ones(8, 2))
    assert torch.equal(s.hard[0].sum(1), torch.ones(8))
    (s.gate * torch.arange(1.0, 9.0)[:, None]).sum().backward()
    assert logits[0].grad.abs().sum() > 0  # the hard sample carries the soft gradient
    again = gumbel_sample(logits, tau=0.5, gen=torch.Generator().manual_seed(0))
    assert torch.equal(again.index, s.index)  # the noise comes from the generator only
    assert anneal_tau(0.0, 2.0, 0.2) == 2.0 and anneal_tau(1.0, 2.0, 0.2) == pytest.approx(0.2)
    assert anneal_tau(0.5, 2.0, 0.2) == pytest.approx((2.0 * 0.2) ** 0.5)


def test_cost_tables_conform_and_are_exact_at_one_hot():
    for sur in (bitops_surrogate(ARCH, SPACE), mean_bits_surrogate(SPACE)):
        assert isinstance(sur, CostSurrogate)
        for choice in ([0, 0], [2, 1], [1, 2]):
            one_hot = [torch.eye(k)[c][None] for k, c in zip(SPACE.sizes, choice, strict=True)]
            assert float(sur.expected(one_hot)[0]) == pytest.approx(sur.discrete(choice))
    assert bitops_surrogate(ARCH, SPACE).discrete(SPACE.highest()) == pytest.approx(1.0)
    assert mean_bits_surrogate(SPACE).discrete(SPACE.lowest()) == pytest.approx(2.0)
    with pytest.raises(ConfigError, match="does not match"):
        TableSurrogate(((Candidate(2, 2),),), [[0.1, 0.2]], "x")


def test_training_is_seeded_resumable_and_uses_the_surrogate():
    cfg = DqmqConfig(epochs=3, warmup_epochs=1, batch_size=32, seed=3, cost_weight=1.0)
    sur = CountingSurrogate(SPACE.sizes)
    net_a, pol_a, stats = _run(cfg, sur)
    assert sur.calls > 0 and len(stats.epochs) == 3
    assert [e["phase"] for e in stats.epochs] == ["warmup", "joint", "joint"]
    net_b, pol_b, _ = _run(cfg)
    for a, b in zip(net_a.state_dict().values(), net_b.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # stop after epoch 1, resume from its state: the same weights as the straight run
    saved = {}
    _run(DqmqConfig(**{**cfg.to_dict(), "epochs": 3}), on_epoch=lambda e, s: saved.setdefault(e, s))
    net_c, pol_c, _ = _run(cfg, resume=saved[1])
    for a, c in zip(net_a.state_dict().values(), net_c.state_dict().values(), strict=True):
        assert torch.equal(a, c)
    assert torch.equal(pol_a.heads[0].weight, pol_c.heads[0].weight)


def test_cost_weight_moves_the_policy_to_cheaper_precisions():
    cheap = DqmqConfig(epochs=3, warmup_epochs=1, batch_size=32, cost_weight=20.0, policy_lr=0.1)
    free = DqmqConfig(epochs=3, warmup_epochs=1, batch_size=32, cost_weight=0.0, reward_cost=0.0,
                      policy_lr=0.1)  # fmt: skip
    _, _, s_sandwich = _run(dataclasses.replace(cheap, joint_sandwich=True))
    assert s_sandwich.epochs[-1]["loss"] > 0  # three task losses: runs, and differs
    _, pol_cheap, s_cheap = _run(cheap)
    assert s_sandwich.epochs[-1]["loss"] != s_cheap.epochs[-1]["loss"]
    _, pol_free, s_free = _run(free)
    assert s_cheap.epochs[-1]["cost"] < s_free.epochs[-1]["cost"]
    f = _data()[2]
    assert float(pol_cheap.probs(f)[0][:, 0].mean()) > float(pol_free.probs(f)[0][:, 0].mean())


def test_bad_inputs_are_config_errors():
    x, y, f = _data()
    net = SwitchableCNN(ARCH, SPACE)
    with pytest.raises(ConfigError, match="policy sizes"):
        train_dqmq(net, QualityPolicy(6, (2, 2)), CountingSurrogate(SPACE.sizes), x, y, f,
                   DqmqConfig())  # fmt: skip
    with pytest.raises(ConfigError, match="warmup_epochs"):
        DqmqConfig(epochs=1, warmup_epochs=2)


def test_tiers_recover_clusters_fill_up_and_route_fast():
    sizes = (3, 3)
    a = np.tile([0, 1], (60, 1))
    b = np.tile([2, 2], (40, 1))
    noise = np.array([[0, 2], [2, 1]])
    tiers = fit_tiers(np.concatenate([a, b, noise]), sizes, k=2, seed=0)
    assert tiers.tolist() == [[0, 1], [2, 2]]  # largest cluster first
    one = fit_tiers(a, sizes, k=2, seed=0)
    assert one.tolist() == [[0, 1]]
    fill = ranked_choices([np.log([0.1, 0.6, 0.3]), np.log([0.5, 0.2, 0.3])])
    assert fill[0].tolist() == [1, 0] and fill[1].tolist() == [1, 2]
    assert fit_tiers(a, sizes, k=2, fill=fill).tolist() == [[0, 1], [1, 0]]
    with pytest.raises(ConfigError, match=">= 1"):
        fit_tiers(a, sizes, k=0)

    # the router picks the tier the policy finds most likely
    policy = QualityPolicy(2, sizes)
    with torch.no_grad():
        for head in policy.heads:
            head.weight.copy_(torch.tensor([[4.0, 0.0], [0.0, 0.0], [-4.0, 0.0]]))
    params = policy.numpy_params()
    router = Router(
        tuple(w for w, _ in params), tuple(b for _, b in params), np.array([[0, 0], [2, 2]])
    )
    feats = np.array([[1.0, 0.0], [-1.0, 0.0]])
    assert router.route(feats).tolist() == [0, 1]
    assert Router.from_dict(router.to_dict()).route(feats).tolist() == [0, 1]
    many = np.random.default_rng(0).normal(size=(10_000, 2))
    t0 = time.perf_counter()
    router.route(many)
    assert (time.perf_counter() - t0) / 10_000 < 50e-6  # microseconds per image
