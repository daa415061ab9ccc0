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
  tier_select_min_val: 8
  methods: [dqmq, uniform_w2a2, uniform_w4a4]
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
        assert sum(shares) == pytest.approx(1.0, abs=1e-3)
        cost = {(t["tier"], str(c["choice"])): c["cost"] for t in report for c in t["candidates"]}
        spent = sum(t["share"] * cost[(t["tier"], str(t["chosen"]))] for t in report)
        cheapest = sum(t["share"] * min(c["cost"] for c in t["candidates"]) for t in report)
        assert spent <= 0.035 + 1e-4 or spent == pytest.approx(cheapest, abs=1e-4)
        # budget mode keeps every uniform choice (8-bit input), costlier than the mode or not
        for t in report:
            if len(t["candidates"]) > 1:
                assert {"[2, 0, 0]", "[3, 1, 1]"} <= {str(c["choice"]) for c in t["candidates"]}
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
