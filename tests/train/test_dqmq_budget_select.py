"""`codesign evaluate` with the input width switched and the tiers chosen within the budget."""

from __future__ import annotations

import json
import sys

import pytest

from codesign.cli.main import main

FLOW = """
run: {name: tiny-budget, steps: [train_dqmq]}
data: {dataset: fashion_mnist, n_train: 128, n_test: 32, batch_size: 32}
model:
  arch:
    stages: [{width: 4, stride: 2}, {width: 4, stride: 2}]
dqmq:
  candidates: [[2, 2], [4, 4]]
  input_bits: 8
  input_candidates: [4, 8]
  mix: {clean: 0.5, gaussian_noise: 0.25, contrast: 0.25}
  eval_severities: [3]
  epochs: 2
  warmup_epochs: 1
  cost_model: lut
  budget: lagrangian
  cost_target: 0.035
  budget_rho: 10.0
  pg_reward: nll
  pg_baseline: loo
  st_gate: false
  tiers: 2
  tier_finetune_epochs: 1
  tier_train_epochs: 1
  tier_select: budget
  n_val: 64
  val_repeats: 2
  tier_select_min_val: 8
  methods: [dqmq, static, uniform_w2a2, uniform_w4a4]
"""


def test_budget_selection_with_switched_input_width(tmp_path, monkeypatch, capsys):
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    out = tmp_path / "cmp"
    monkeypatch.setattr(sys, "argv", ["codesign", "evaluate", str(flow), "--seeds", "0,1",
                                      "--out", str(out)])  # fmt: skip
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    if code and "dataset" in capsys.readouterr().err.lower():
        pytest.skip("Fashion-MNIST not installed")
    assert code == 0
    rows = json.loads((out / "results.json").read_text())
    for seed in (0, 1):
        report = json.loads((out / f"seed{seed}" / "tier_select.json").read_text())
        shares = [t["share"] for t in report]
        assert sum(t["n_val"] for t in report) == 128  # val_repeats: two draws of 64 images
        assert sum(shares) == pytest.approx(1.0, abs=1e-3)
        cost = {(t["tier"], str(c["choice"])): c["cost"] for t in report for c in t["candidates"]}
        spent = sum(t["share"] * cost[(t["tier"], str(t["chosen"]))] for t in report)
        cheapest = sum(t["share"] * min(c["cost"] for c in t["candidates"]) for t in report)
        assert spent <= 0.035 + 1e-4 or spent == pytest.approx(cheapest, abs=1e-4)
        # budget mode keeps every uniform choice (8-bit input), costlier than the mode or not
        for t in report:
            if len(t["candidates"]) > 1:
                assert {"[2, 0, 0]", "[3, 1, 1]"} <= {str(c["choice"]) for c in t["candidates"]}
        # the static control: one design for every image, picked the same way
        alone = json.loads((out / f"seed{seed}" / "static_select.json").read_text())
        assert len(alone) == 1 and alone[0]["share"] == 1.0 and alone[0]["n_val"] == 128
        picked = {str(c["choice"]): c["cost"] for c in alone[0]["candidates"]}
        assert picked[str(alone[0]["chosen"])] <= 0.035 + 1e-4 or picked[
            str(alone[0]["chosen"])] == min(picked.values())  # fmt: skip
    assert {r["method"] for r in rows} >= {"static/select", "static/scratch"}
    # the uniform baselines read 8-bit inputs; the priced designs know the input width
    by = {r["method"]: r for r in rows if r.get("condition") == "clean" and r["seed"] == 0}
    assert by["uniform_w4a4"]["configs"][0][0] == [3, 1, 1]  # first layer: in8 W4A4
    assert by["uniform_w2a2"]["configs"][0][0] == [2, 0, 0]
    assert by["uniform_w4a4"]["lut"] == by["dqmq/switchable_w4a4"]["lut"]
    assert by["uniform_w4a4"]["lut"] > by["uniform_w2a2"]["lut"] > 0
    assert "dqmq/tiers_select" in by
    headroom = json.loads((out / "headroom.json").read_text())  # two seeds: a bound
    assert headroom["seeds"] == [0, 1] and headroom["designs"] == [
        "uniform_w2a2/ft", "uniform_w4a4/ft"]  # fmt: skip
    assert any(b["budget"] == pytest.approx(0.035) for b in headroom["budgets"])
    assert "Router headroom" in (out / "summary.md").read_text()
    gaps = json.loads((out / "gaps.json").read_text())  # paired, with intervals
    hull = [g for g in gaps if g["method"] == "dqmq/tiers_select" and g["versus"].startswith(
        "static hull")]  # fmt: skip
    assert len(hull) == 1 and hull[0]["seeds"] == [0, 1] and len(hull[0]["gaps"]) == 2
    assert "Paired gaps" in (out / "summary.md").read_text()

    # the flow's tiers step deploys what evaluate scored as dqmq/tiers_select (seed 0)
    from codesign.data.splits import load_split
    from codesign.flow.config import load_flow_config
    from codesign.flow.dqmq import CHECKPOINT_FILE, TIERS_FILE
    from codesign.flow.runner import run_flow
    from codesign.flow.steps import STEPS
    from codesign.policy.tiers import Router
    from codesign.quality import Corruption
    from codesign.train.dqmq_eval import evaluate_method, test_conditions
    from codesign.train.dqmq_finetune import load_tier_models, tiered_predictor
    from codesign.train.dqmq_run import build_surrogate, load_dqmq

    flow.write_text(FLOW.replace("steps: [train_dqmq]", "steps: [train_dqmq, tiers]"))
    cfg = load_flow_config(flow, STEPS).with_overrides(out_dir=tmp_path / "run")
    run_flow(cfg, STEPS)
    tiers_json = json.loads((tmp_path / "run" / TIERS_FILE).read_text())
    report = json.loads((out / "seed0" / "tier_select.json").read_text())
    router = Router.from_dict(tiers_json["router"])
    order = tiers_json["fit_index"]  # the flow sorts the tiers by their modes' cost
    assert tiers_json["choices"] == [report[i]["chosen"] for i in order]
    assert router.tiers.tolist() == [report[i]["mode"] for i in order]  # routes by the modes
    assert tiers_json["tier_weights"].startswith("selected (budget)")
    net, _, _ = load_dqmq(tmp_path / "run" / CHECKPOINT_FILE)
    models = load_tier_models(tmp_path / "run" / "dqmq" / tiers_json["tier_models"], net.arch,
                              tiers_json["choices"])  # fmt: skip
    x, y = load_split("fashion_mnist", "test", 32, 0)
    conds = test_conditions(x, y, [c.value for c in Corruption], [3], 0)
    sur = build_surrogate("lut", net.arch, net.space, board="pynq-z2", fps=10_000.0)
    mine = evaluate_method(tiered_predictor(models, tiers_json["choices"], router.route), conds,
                           sur, net.space.bits_table())  # fmt: skip
    theirs = [r for r in rows if r["method"] == "dqmq/tiers_select" and r["seed"] == 0]
    assert len(mine) == len(theirs) == len(conds)
    for m, t in zip(mine, theirs, strict=True):
        assert (m["condition"], m["accuracy"], m["cost"]) == (t["condition"], t["accuracy"],
                                                              t["cost"])  # fmt: skip
