"""`codesign train` -> `codesign tiers` on a tiny flow over real Fashion-MNIST images."""

from __future__ import annotations

import json
import sys

import pytest
import torch

from codesign.cli.main import main
from codesign.flow.dqmq import CHECKPOINT_FILE, TIERS_FILE
from codesign.train.dqmq_run import load_dqmq

FLOW = """
run: {name: tiny, out_dir: run, steps: [train_dqmq, tiers]}
data: {dataset: fashion_mnist, n_train: 128, n_test: 64, batch_size: 32}
model:
  arch:
    stages: [{width: 4, stride: 2}, {width: 4, stride: 2}]
dqmq:
  candidates: [[2, 2], [4, 4]]
  mix: {clean: 0.5, gaussian_noise: 0.25, gaussian_blur: 0.25}
  epochs: 2
  warmup_epochs: 1
  cost_target: 0.1
  tiers: 2
"""


def _main(monkeypatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["codesign", *args])
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_train_then_tiers(tmp_path, monkeypatch, capsys):
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    code = _main(monkeypatch, "train", str(flow))
    if code and "dataset" in capsys.readouterr().err.lower():
        pytest.skip("Fashion-MNIST not installed")
    assert code == 0
    run = tmp_path / "run"
    net, policy, ckpt = load_dqmq(run / CHECKPOINT_FILE)
    assert ckpt["complete"] and ckpt["cost_version"] == "bitops-interim-1"
    assert ckpt["flow_config"]["dqmq"]["epochs"] == 2 and ckpt["config"]["seed"] == 0
    assert [e["phase"] for e in ckpt["state"]["history"]] == ["warmup", "joint"]
    assert tuple(policy.sizes) == net.space.sizes == (2, 2, 2)

    assert _main(monkeypatch, "tiers", str(run), "--k", "2") == 0
    tiers = json.loads((run / TIERS_FILE).read_text())
    assert tiers["k"] == 2 and len(tiers["tiers"]) == 2
    assert tiers["describe"][0] != tiers["describe"][1]
    assert sum(tiers["share"]) == pytest.approx(1.0, abs=1e-3)
    x = torch.rand(4, 1, 28, 28)
    frozen = net.freeze(tiers["choices"][0])
    assert torch.equal(frozen(x), net(x, torch.tensor(tiers["choices"][0])))

    # a flow without the DQMQ step: one line, exit code 1
    bad = tmp_path / "bad.yaml"
    bad.write_text(FLOW.replace("steps: [train_dqmq, tiers]", "steps: [train]"))
    assert _main(monkeypatch, "train", str(bad)) == 1
    assert "no train_dqmq step" in capsys.readouterr().err


EVAL_FLOW = """
run: {name: tiny-eval, steps: [train_dqmq]}
data: {dataset: fashion_mnist, n_train: 128, n_test: 32, batch_size: 32}
model:
  arch:
    stages: [{width: 4, stride: 2}, {width: 4, stride: 2}]
dqmq:
  candidates: [[2, 2], [4, 4]]
  mix: {clean: 0.5, gaussian_noise: 0.25, contrast: 0.25}
  eval_severities: [3]
  epochs: 3
  warmup_epochs: 1
  finetune_epochs: 1
  cost_model: lut
  budget: lagrangian
  cost_target: 0.04
  budget_rho: 10.0
  pg_reward: nll
  pg_baseline: loo
  st_gate: false
  tiers: 2
  tier_finetune_epochs: 1
  tier_train_epochs: 1
  tier_select: val_accuracy
  n_val: 64
  tier_select_min_val: 8
  methods: [dqmq, static, uniform_w2a2]
"""


def test_evaluate_with_the_session2_objective(tmp_path, monkeypatch, capsys):
    from codesign.cost.calibration import load_cost_model

    flow = tmp_path / "flow.yaml"
    flow.write_text(EVAL_FLOW)
    out = tmp_path / "cmp"
    code = _main(monkeypatch, "evaluate", str(flow), "--seeds", "0", "--out", str(out))
    if code and "dataset" in capsys.readouterr().err.lower():
        pytest.skip("Fashion-MNIST not installed")
    assert code == 0
    rows = json.loads((out / "results.json").read_text())
    methods = {r["method"] for r in rows}
    assert {"dqmq/tiers_ft", "static/ft", "static/routed_ft", "uniform_w2a2"} <= methods
    assert {"dqmq/tiers_scratch", "uniform_w2a2/ft"} <= methods  # (b): tiers trained apart
    # the static configuration trained apart the same way: its one configuration, unchanged
    cfgs = {m: {str(r["configs"]) for r in rows if r["method"] == m and "configs" in r}
            for m in ("static/scratch", "static/ft")}  # fmt: skip
    assert len(cfgs["static/scratch"]) == 1 and cfgs["static/scratch"] == cfgs["static/ft"]
    # tiers_select: each tier's pick is no costlier than its mode; the modes' own candidates
    # are tiers_scratch's networks (same training, same tuning), so all-mode picks score alike
    report = json.loads((out / "seed0" / "tier_select.json").read_text())
    for tier in report:
        assert tier["n_val"] >= 8 or len(tier["candidates"]) == 1  # too few: the mode only
        costs = {str(c["choice"]): c["cost"] for c in tier["candidates"]}
        assert tier["candidates"][0]["choice"] == tier["mode"]
        assert costs[str(tier["chosen"])] <= costs[str(tier["mode"])]
    by = {(r["method"], r["condition"]): r for r in rows if "accuracy" in r}
    sel = [r for (m, _), r in by.items() if m == "dqmq/tiers_select"]
    assert sel and all(r["cost"] <= by[("dqmq/tiers_scratch", r["condition"])]["cost"] for r in sel)
    if all(t["chosen"] == t["mode"] for t in report):
        assert all(r["accuracy"] == by[("dqmq/tiers_scratch", r["condition"])]["accuracy"]
                   for r in sel)  # fmt: skip
    apart = sorted((out / "seed0").glob("tier_*.pt"))
    assert apart and all(load_dqmq(p)[2]["config"]["epochs"] == 1 for p in apart)
    assert "uniform_w4a4" not in methods and "dqnet/policy_hard" not in methods
    assert all(r["dsp"] == 0 and r["lut"] > 0 for r in rows if "lut" in r)  # LUT MVUs
    _, _, ckpt = load_dqmq(out / "seed0" / "dqmq.pt")
    assert ckpt["cost_version"] == load_cost_model("xc7").version
    assert [e["phase"] for e in ckpt["state"]["history"]] == ["warmup", "joint", "finetune"]
    assert "static/routed_ft" in (out / "summary.md").read_text()
    assert json.loads((out / "headroom.json").read_text()) is None  # one seed: no held-out seed

    # Deploy what was evaluated: the flow's train_dqmq -> tiers (same flow, seed 0) writes
    # the same network and the tier models that scored dqmq/tiers_scratch (tiers trained
    # apart, then tuned) and, without tier_train_epochs, dqmq/tiers_ft above.
    from codesign.data.splits import load_split
    from codesign.flow.config import load_flow_config
    from codesign.flow.dqmq import make_tiers
    from codesign.flow.runner import run_flow
    from codesign.flow.steps import STEPS
    from codesign.policy.tiers import Router
    from codesign.quality import Corruption
    from codesign.train.dqmq_eval import evaluate_method, test_conditions
    from codesign.train.dqmq_finetune import load_tier_models, tiered_predictor
    from codesign.train.dqmq_run import build_surrogate

    # (tier_select mode: the tiers as cut; tests/train/test_dqmq_budget_select.py deploys picks)
    flow.write_text(
        EVAL_FLOW.replace("steps: [train_dqmq]", "steps: [train_dqmq, tiers]").replace(
            "tier_select: val_accuracy", "tier_select: mode"
        )
    )
    cfg = load_flow_config(flow, STEPS).with_overrides(out_dir=tmp_path / "run")
    result = run_flow(cfg, STEPS)
    assert result.state.results["tiers"]["fine_tuned"]
    run = tmp_path / "run"
    net, _, _ = load_dqmq(run / CHECKPOINT_FILE)
    evaluated, _, _ = load_dqmq(out / "seed0" / "dqmq.pt")
    for a, b in zip(net.state_dict().values(), evaluated.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    x, y = load_split("fashion_mnist", "test", 32, 0)
    conds = test_conditions(x, y, [c.value for c in Corruption], [3], 0)
    sur = build_surrogate("lut", net.arch, net.space, board="pynq-z2", fps=10_000.0)

    def same_as_evaluated(tiers_file, method):
        tiers_json = json.loads(tiers_file.read_text())
        router = Router.from_dict(tiers_json["router"])
        path = tiers_file.parent / tiers_json["tier_models"]
        models = load_tier_models(path, net.arch, router.tiers)
        mine = evaluate_method(tiered_predictor(models, router.tiers, router.route), conds,
                               sur, net.space.bits_table())  # fmt: skip
        theirs = [r for r in rows if r["method"] == method]
        assert len(mine) == len(theirs) == len(conds)
        for m, t in zip(mine, theirs, strict=True):
            assert (m["condition"], m["severity"], m["accuracy"]) == (
                t["condition"], t["severity"], t["accuracy"]
            )  # fmt: skip
        return tiers_json

    assert same_as_evaluated(run / TIERS_FILE, "dqmq/tiers_scratch")["tier_weights"] == (
        "trained apart, fine-tuned"
    )
    sec = cfg.dqmq.model_copy(update={"tier_train_epochs": 0})
    alone = tmp_path / "ft" / "tiers.json"
    make_tiers(run / CHECKPOINT_FILE, cfg.model_copy(update={"dqmq": sec}), 2, alone)
    assert same_as_evaluated(alone, "dqmq/tiers_ft")["tier_weights"] == "fine-tuned"
