"""DQMQ objective options: the Lagrangian budget, the graded reward with a leave-one-out
baseline, the LUT-MVU cost surrogate, and the comparison's method filter."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from codesign.cost.protocol import CostSurrogate, Impl
from codesign.errors import ConfigError
from codesign.flow.dqmq_section import DqmqSection
from codesign.models.arch import QUICKSTART_ARCH
from codesign.models.switchable import SwitchableCNN, SwitchSpace
from codesign.policy.costs import DesignPricer
from codesign.policy.options import Budget, PgBaseline, PgReward
from codesign.policy.policy import QualityPolicy
from codesign.train.dqmq import DqmqConfig, train_dqmq
from codesign.train.dqmq_run import build_surrogate, method_configs
from tests.train.test_dqmq import ARCH, SPACE, CountingSurrogate, _data

# costs 0, .1, .2 per layer (2 layers): the most expensive choice costs 0.4
BASE = DqmqConfig(epochs=5, warmup_epochs=1, batch_size=16, policy_lr=0.1, seed=1)


def _train(cfg, expensive_start=False, resume=None, on_epoch=None):
    torch.manual_seed(cfg.seed)
    net = SwitchableCNN(ARCH, SPACE)
    policy = QualityPolicy(6, SPACE.sizes, cfg.use_quality)
    if expensive_start:  # start from the all-highest precision (argmax cost 0.4)
        with torch.no_grad():
            for head in policy.heads:
                head.bias[-1] = 3.0
    x, y, f = _data()
    stats = train_dqmq(net, policy, CountingSurrogate(SPACE.sizes), x, y, f, cfg,
                       resume=resume, on_epoch=on_epoch)  # fmt: skip
    with torch.no_grad():
        argmax_cost = float(policy.argmax(f).float().sum(1).mean()) / 10
    return net, policy, stats, argmax_cost


def test_lagrangian_multiplier_enforces_the_budget_where_a_weak_hinge_does_not():
    weak = dataclasses.replace(BASE, cost_weight=0.01, cost_target=0.1, reward_cost=0.0)
    *_, hinge_cost = _train(weak, expensive_start=True)
    lag = dataclasses.replace(weak, budget="lagrangian", dual_lr=0.5)
    _, _, stats, lag_cost = _train(lag, expensive_start=True)
    assert hinge_cost >= 0.3  # lambda 0.01: the hinge barely moves the policy
    assert lag_cost <= 0.15  # the multiplier grows until the argmax decisions fit
    lams = [e["lam"] for e in stats.epochs if e["phase"] == "joint"]
    assert lams[0] > 0.01
    # from the cheapest start, a target above it: the hinge stays cheap, the multiplier
    # turns negative and buys bits up to the target (an equality constraint)
    up = dataclasses.replace(weak, cost_target=0.3)
    *_, hinge_up = _train(up)
    _, _, stats_up, lag_up = _train(dataclasses.replace(up, budget="lagrangian", dual_lr=0.5))
    assert hinge_up < 0.2
    assert lag_up >= 0.25 and min(e.get("lam", 0.0) for e in stats_up.epochs) < 0


def test_loo_reinforce_alone_learns_the_cheap_choice_and_resumes_exactly():
    # no model-based term: only the REINFORCE reward (-CE - 5 cost) with a LOO baseline
    cfg = dataclasses.replace(BASE, cost_weight=0.0, reward_cost=5.0, pg_reward="nll",
                              pg_baseline="loo")  # fmt: skip
    assert cfg.pg_reward is PgReward.NLL and cfg.pg_baseline is PgBaseline.LOO
    _, policy, _, cost = _train(cfg, expensive_start=True)
    assert cost <= 0.15  # from 0.4: the advantage has the right sign
    lag = dataclasses.replace(cfg, budget=Budget.LAGRANGIAN, cost_target=0.2, epochs=3)
    net_a, pol_a, _, _ = _train(lag)
    saved = {}
    _train(lag, on_epoch=lambda e, s: saved.setdefault(e, s))
    assert "lam" in saved[2]
    net_b, pol_b, _, _ = _train(lag, resume=saved[2])
    for a, b in zip(net_a.state_dict().values(), net_b.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert torch.equal(pol_a.heads[0].weight, pol_b.heads[0].weight)


def test_options_are_checked_and_old_configs_keep_their_checkpoint_keys():
    with pytest.raises(ConfigError, match="needs a cost_target"):
        DqmqConfig(budget="lagrangian")
    with pytest.raises(ConfigError, match="pg_reward 'acc' is not one of correct, nll"):
        DqmqConfig(pg_reward="acc")
    assert "budget" not in DqmqConfig().to_dict()  # defaults: a dqmq-1 checkpoint still matches
    d = DqmqConfig(budget="lagrangian", cost_target=0.1, pg_baseline="loo").to_dict()
    assert d["budget"] == "lagrangian" and d["pg_baseline"] == "loo"
    assert DqmqConfig(**d) == DqmqConfig(budget="lagrangian", cost_target=0.1, pg_baseline="loo")
    with pytest.raises(ValueError, match="needs a dqmq.cost_target"):
        DqmqSection(budget="lagrangian")


def test_lut_surrogate_prices_lut_mvus_like_the_design_pricer():
    arch = QUICKSTART_ARCH
    space = SwitchSpace.uniform(arch, [(2, 2), (4, 4), (8, 8)], input_bits=8)
    sur = build_surrogate("lut", arch, space, board="pynq-z2", fps=10_000.0)
    assert isinstance(sur, CostSurrogate)
    assert all(c.impl is Impl.LUT for layer in sur.candidates for c in layer)
    uniform = [sur.discrete([j] * space.n_layers) for j in range(3)]
    assert uniform[0] < uniform[1] < uniform[2]
    pricer = DesignPricer(arch, space, board="pynq-z2", fps=10_000.0, impl=Impl.LUT)
    assert pricer.version == sur.version
    for choice in ([0, 0, 0, 0], [2, 1, 0, 1], [1, 2, 2, 0]):
        price = pricer.price(choice)
        assert price["dsp"] == 0  # LUT MVUs
        # the surrogate sums node prices; design_cost adds the calibration's stitching
        # overhead (a few dozen LUT): close, not equal
        assert sur.discrete(choice) == pytest.approx(price["lut"] / 53_200, rel=0.05)
    dsp = build_surrogate("analytic", arch, space, board="pynq-z2", fps=10_000.0)
    assert all(c.impl is Impl.DSP for layer in dsp.candidates for c in layer)


def test_method_filter():
    section = DqmqSection(candidates=[(2, 2), (4, 4), (8, 8)], methods=["dqmq", "uniform_w4a4"])
    assert list(method_configs(section, 0, SPACE)) == ["dqmq", "uniform_w4a4"]
    with pytest.raises(ConfigError, match="unknown uniform_w5a5"):
        method_configs(DqmqSection(candidates=[(2, 2)], methods=["uniform_w5a5"]), 0, SPACE)


def test_st_gate_off_leaves_the_policy_to_the_cost_and_reinforce_terms():
    quiet = dataclasses.replace(BASE, epochs=2, cost_weight=0.0, pg_weight=0.0)
    _, pol_gate, _, _ = _train(quiet)
    _, pol_none, _, _ = _train(dataclasses.replace(quiet, st_gate=False))
    assert pol_gate.heads[0].weight.abs().sum() > 0  # the gate's gradient moved it
    assert all(float(p.abs().sum()) == 0.0 for p in pol_none.parameters())  # nothing did
    # the augmented-Lagrangian penalty alone pulls an expensive start to the target
    rho = dataclasses.replace(BASE, cost_weight=0.0, dual_lr=0.0, budget="lagrangian",
                              cost_target=0.1, budget_rho=50.0, st_gate=False)  # fmt: skip
    *_, cost = _train(rho, expensive_start=True)
    assert cost <= 0.15


def test_finetune_epochs_train_the_deployed_choice_with_the_policy_frozen():
    cfg = dataclasses.replace(BASE, epochs=4, finetune_epochs=2)
    snapshots = {}
    net, policy, stats, _ = _train(cfg, on_epoch=lambda e, s: snapshots.setdefault(e, s))
    assert [e["phase"] for e in stats.epochs] == ["warmup", "joint", "finetune", "finetune"]
    for key, value in snapshots[2]["policy"].items():
        assert torch.equal(value, policy.state_dict()[key])  # frozen after the joint phase
    moved = [k for k, v in net.state_dict().items() if not torch.equal(v, snapshots[2]["net"][k])]
    assert moved  # the shared weights still train
    with pytest.raises(ConfigError, match="finetune_epochs"):
        DqmqConfig(epochs=2, warmup_epochs=1, finetune_epochs=2)


def test_tier_finetune_tunes_each_tier_on_its_routed_images_and_routes_exactly():
    from codesign.train.dqmq_finetune import finetune_tiers, tiered_predictor

    torch.manual_seed(0)
    net = SwitchableCNN(ARCH, SPACE).eval()
    x, y, f = _data()
    tiers = np.array([[0, 0], [2, 1]])
    routed = (f[:, 0] > 0).long().numpy()  # about half each
    before = net.freeze([0, 0])
    models = finetune_tiers(net, tiers, routed, x, y, epochs=1, lr=1e-3, batch_size=16,
                            seed=0, min_images=16)  # fmt: skip
    assert not torch.equal(models[0](x), before(x))  # tuned, and the switchable net is not
    assert torch.equal(net.freeze([0, 0])(x), before(x))
    route = lambda feats: (feats[:, 0] > 0).astype(np.int64)  # noqa: E731
    d = tiered_predictor(models, tiers, route)(x, f)
    for t in (0, 1):
        rows = torch.from_numpy(np.flatnonzero(route(f.double().numpy()) == t))
        assert torch.equal(d.logits[rows], models[t](x[rows]))
        assert torch.equal(d.choice[rows], torch.tensor(tiers[t]).expand(len(rows), -1))
