"""Per-layer candidate sets (``dqmq.layer_candidates``): space, baselines, prices, freeze."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from codesign.cost.protocol import Impl
from codesign.errors import ConfigError
from codesign.flow.config import load_flow_config
from codesign.flow.dqmq import space_of
from codesign.flow.dqmq_section import DqmqSection
from codesign.models.arch import QUICKSTART_ARCH, CnnArch, StageSpec
from codesign.models.bits import LayerBits
from codesign.models.switchable import SwitchableCNN, SwitchSpace
from codesign.policy.costs import DesignPricer
from codesign.train.dqmq_run import method_configs

# the first conv may read 8-bit activations out, the classifier may take 8-bit weights
LAYERS = [[(4, 4), (4, 8), (8, 8)], [(2, 2), (4, 4)], [(2, 2), (4, 4)], [(4, 4), (8, 8)]]


def test_per_layer_space_offers_each_layer_its_own_pairs():
    space = SwitchSpace.per_layer(QUICKSTART_ARCH, LAYERS, input_bits=8)
    space.validate(QUICKSTART_ARCH)
    assert space.sizes == (3, 2, 2, 2)
    assert space.candidates[0][1] == LayerBits(4, 8)
    assert space.candidates[-1] == (LayerBits(4, None), LayerBits(8, None))  # no head act
    assert space.uniform_pairs() == [(4, 4)]  # W2A2 and W8A8 are not in every layer
    cfg = space.config([1, 0, 1, 1])
    assert [(b.weight, b.act) for b in cfg.layers[:3]] == [(4, 8), (2, 2), (4, 4)]
    assert cfg.layers[-1].weight == 8
    # the uniform constructor is the per-layer one with the same pairs everywhere
    pairs = [(2, 2), (4, 4), (8, 8)]
    assert SwitchSpace.uniform(QUICKSTART_ARCH, pairs) == SwitchSpace.per_layer(
        QUICKSTART_ARCH, [pairs] * 4
    )
    assert SwitchSpace.uniform(QUICKSTART_ARCH, pairs).uniform_pairs() == pairs
    with pytest.raises(ConfigError, match="one candidate list per weight layer: 4"):
        SwitchSpace.per_layer(QUICKSTART_ARCH, LAYERS[:3])
    with pytest.raises(ConfigError, match="layer 'fc': give at least one"):
        SwitchSpace.per_layer(QUICKSTART_ARCH, [*LAYERS[:3], []])


def test_uniform_baselines_are_the_pairs_every_layer_offers_and_prices_match():
    section = DqmqSection(layer_candidates=LAYERS, cost_model="lut")
    space = SwitchSpace.per_layer(QUICKSTART_ARCH, section.pairs_per_layer(4))
    names = [m for m in method_configs(section, 0, space) if m.startswith("uniform")]
    assert names == ["uniform_w4a4"]
    choice = method_configs(section, 0, space)["uniform_w4a4"][1].fixed_choice
    assert space.config(choice) == SwitchSpace.uniform(QUICKSTART_ARCH, [(4, 4)]).config([0] * 4)
    # a per-layer choice costs what the same bits cost in a uniform space's pricer
    full = SwitchSpace.uniform(QUICKSTART_ARCH, [(2, 2), (4, 4), (4, 8), (8, 8)])
    mine = DesignPricer(QUICKSTART_ARCH, space, impl=Impl.LUT)
    ref = DesignPricer(QUICKSTART_ARCH, full, impl=Impl.LUT)
    assert mine.price([1, 0, 1, 1]) == ref.price([2, 0, 1, 2])
    assert mine.price([1, 1, 1, 0])["lut"] > mine.price([0, 1, 1, 0])["lut"]  # A8 out costs


def test_flow_layer_candidates_reach_the_switchable_net_and_freeze_exactly(tmp_path):
    arch = {"stages": [{"width": 4, "stride": 2}, {"width": 4, "stride": 2}]}
    layers = [[[4, 4], [4, 8]], [[2, 2], [3, 3]], [[2, 2], [8, 8]]]
    flow = tmp_path / "flow.yaml"
    flow.write_text(yaml.safe_dump({
        "run": {"name": "sets", "steps": ["train_dqmq"]},
        "model": {"arch": arch},
        "dqmq": {"layer_candidates": layers},
    }))  # fmt: skip
    cfg = load_flow_config(flow)
    _, space = space_of(cfg)
    assert space.sizes == (2, 2, 2) and space.uniform_pairs() == []
    torch.manual_seed(0)
    small = CnnArch(stages=(StageSpec(4, stride=2), StageSpec(4, stride=2)), num_classes=10,
                    input_size=28)  # fmt: skip
    net = SwitchableCNN(small, space).eval()
    x = torch.rand(4, 1, 28, 28)
    mixed = torch.tensor([[0, 0, 0], [1, 1, 1], [1, 0, 1], [0, 1, 0]])
    out = net(x, mixed)
    for i, row in enumerate(mixed.tolist()):  # a per-sample choice, frozen: the same outputs
        same = net(x, torch.tensor(row).expand(4, -1))[i]
        assert torch.equal(out[i], same)
        assert torch.equal(net.freeze(row).eval()(x)[i], same)
    doc = yaml.safe_load(flow.read_text())
    doc["dqmq"]["layer_candidates"][2] = [[2, 2], [8, 4]]  # the classifier's act is dropped
    flow.write_text(yaml.safe_dump(doc))
    assert space_of(load_flow_config(flow))[1].candidates[2] == (LayerBits(2), LayerBits(8))
    doc["dqmq"]["layer_candidates"] = layers[:2]  # one layer short: one line, at load
    flow.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match="one candidate list per weight layer: 3"):
        space_of(load_flow_config(flow))


def test_tier_select_candidates_are_the_mode_then_no_costlier_choices():
    from codesign.flow.dqmq_select import candidate_configs  # noqa: PLC0415

    def cost(c):
        return sum(c) / 10

    ranked = np.array([[1, 1], [2, 0], [0, 2], [2, 2], [1, 0]])
    got = candidate_configs([1, 1], ranked, [[0, 0], [1, 1], [2, 2]], cost, top=3)
    assert got == [[1, 1], [2, 0], [0, 2], [0, 0]]  # [2, 2] costs more; [1, 0] not in top 3
    with pytest.raises(ValueError, match="tier_train_epochs and dqmq.tier_finetune_epochs"):
        DqmqSection(tier_select="val_accuracy", tier_train_epochs=1)


def test_holdout_is_disjoint_from_the_training_subset():
    from codesign.data.splits import load_holdout, load_split  # noqa: PLC0415
    from codesign.errors import DatasetMissingError  # noqa: PLC0415

    try:
        x, _ = load_split("fashion_mnist", "train", 500, 3)
        v, _ = load_holdout("fashion_mnist", 500, 200, 3)
    except DatasetMissingError:
        pytest.skip("Fashion-MNIST not installed")
    seen = {bytes(im.numpy().tobytes()) for im in x}
    assert v.shape[0] == 200 and not any(bytes(im.numpy().tobytes()) in seen for im in v)
    with pytest.raises(ConfigError, match="needs data.n_train <= 59800"):
        load_holdout("fashion_mnist", 59_900, 200, 3)


def test_budget_selection_moves_bits_to_the_tier_that_needs_them():
    from codesign.flow.dqmq_select import candidate_configs, pick_within_budget  # noqa: PLC0415

    # tier 0 (noise-like) loses nothing at the cheap design, tier 1 (contrast-like) 8 points
    acc = [[0.80, 0.80, 0.81], [0.70, 0.78, 0.79]]
    cost = [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]
    assert pick_within_budget(acc, cost, [0.5, 0.5], 1.5) == [0, 1]  # not [1, 0]: same cost
    assert pick_within_budget(acc, cost, [0.5, 0.5], 3.0) == [2, 2]  # enough for the best
    assert pick_within_budget(acc, cost, [0.5, 0.5], 0.5) == [0, 0]  # none fits: the cheapest
    assert pick_within_budget(acc, cost, [0.9, 0.1], 1.1) == [0, 1]  # shares weigh the cost
    tie = [[0.8, 0.8], [0.8, 0.8]]
    assert pick_within_budget(tie, [[1.0, 2.0], [1.0, 2.0]], [0.5, 0.5], 2.0) == [0, 0]
    # budget mode offers costlier choices too
    ranked = np.array([[1, 1], [2, 0], [0, 2], [2, 2], [1, 0]])
    got = candidate_configs([1, 1], ranked, [[0, 0], [1, 1], [2, 2]], lambda c: sum(c) / 10,
                            top=3, any_cost=True)  # fmt: skip
    assert got == [[1, 1], [2, 0], [0, 2], [0, 0], [2, 2]]
    with pytest.raises(ValueError, match="tier_select budget trains the candidates apart"):
        DqmqSection(tier_select="budget", tier_finetune_epochs=1)


def test_budget_selection_greedy_beyond_the_exhaustive_limit(monkeypatch):
    import codesign.flow.dqmq_select as sel  # noqa: PLC0415

    acc = [[0.80, 0.80, 0.81], [0.70, 0.78, 0.79]]
    cost = [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]
    exhaustive = sel.pick_within_budget(acc, cost, [0.5, 0.5], 1.5)
    monkeypatch.setattr(sel, "_MAX_COMBINATIONS", 1)
    assert sel.pick_within_budget(acc, cost, [0.5, 0.5], 1.5) == exhaustive == [0, 1]
    assert sel.pick_within_budget(acc, cost, [0.5, 0.5], 9.0) == [2, 2]
