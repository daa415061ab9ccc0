"""``dqmq.router: quality``: tiers cut by k-means on quality features, nearest-centre routing."""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pytest

from codesign.cli.main import main
from codesign.errors import ConfigError
from codesign.policy.quality_router import QualityRouter, fit_quality_router, router_from_dict
from codesign.policy.tiers import Router


def test_quality_tiers_recover_regions_and_route_to_the_nearest_centre():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0, 0.0], [5.0, 0.0, 0.0], [0.0, 5.0, 5.0]])
    truth = np.repeat([0, 1, 2], [30, 60, 10])
    feats = centres[truth] + 0.1 * rng.normal(size=(100, 3))
    seen = []

    def mode_of(members):
        seen.append(members)
        return [int(truth[members[0]]), 1]  # a choice that names the region

    router = fit_quality_router(feats, mode_of, k=3, seed=0)
    assert router.tiers.tolist() == [[1, 1], [0, 1], [2, 1]]  # largest cluster first
    assert sorted(len(m) for m in seen) == [10, 30, 60]
    for m in seen:  # each call got exactly one region's images
        assert len(set(truth[m].tolist())) == 1
    routed = router.route(feats)
    assert (router.tiers[routed, 0] == truth).all()
    probe = rng.normal(scale=3.0, size=(500, 3))
    brute = np.argmin(((probe[:, None, :] - router.centres[None]) ** 2).sum(-1), axis=1)
    assert (router.route(probe) == brute).all()
    # JSON round trip, either kind; a reordered router routes to the reordered tiers
    again = router_from_dict(json.loads(json.dumps(router.to_dict())))
    assert isinstance(again, QualityRouter) and (again.route(probe) == brute).all()
    swapped = router.take([2, 0, 1])
    assert (swapped.tiers[swapped.route(probe)] == router.tiers[brute]).all()
    policy_router = Router((np.eye(2),), (np.zeros(2),), np.array([[0], [1]]))
    old = {k: v for k, v in policy_router.to_dict().items() if k != "kind"}  # before kinds
    for data in (policy_router.to_dict(), old):
        assert router_from_dict(data).route(np.array([[1.0, 0.0], [0.0, 1.0]])).tolist() == [0, 1]
    with pytest.raises(ConfigError, match="router"):
        router_from_dict({"kind": "quality", "tiers": [[0]]})
    with pytest.raises(ConfigError, match="distinct inputs"):
        fit_quality_router(np.zeros((5, 3)), mode_of, k=2)
    with pytest.raises(ConfigError, match=">= 1"):
        fit_quality_router(feats, mode_of, k=0)
    many = rng.normal(size=(10_000, 3))
    t0 = time.perf_counter()
    router.route(many)
    assert (time.perf_counter() - t0) / 10_000 < 50e-6  # microseconds per image


FLOW = """
run: {name: tiny-quality-router, steps: [train_dqmq]}
data: {dataset: fashion_mnist, n_train: 128, n_test: 32, batch_size: 32}
model:
  arch:
    stages: [{width: 4, stride: 2}, {width: 4, stride: 2}]
dqmq:
  candidates: [[2, 2], [4, 4]]
  mix: {clean: 0.4, gaussian_noise: 0.3, contrast: 0.3}
  eval_severities: [3]
  epochs: 2
  warmup_epochs: 1
  cost_model: lut
  budget: lagrangian
  cost_target: 0.035
  tiers: 3
  router: quality
  tier_finetune_epochs: 1
  tier_train_epochs: 1
  tier_select: budget
  n_val: 64
  tier_select_min_val: 4
  methods: [dqmq, static, uniform_w2a2, uniform_w4a4]
"""


def test_evaluate_and_the_tiers_step_route_by_quality(tmp_path, monkeypatch, capsys):
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    out = tmp_path / "cmp"
    monkeypatch.setattr(sys, "argv", ["codesign", "evaluate", str(flow), "--seeds", "0",
                                      "--out", str(out)])  # fmt: skip
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    if code and "dataset" in capsys.readouterr().err.lower():
        pytest.skip("Fashion-MNIST not installed")
    assert code == 0
    report = json.loads((out / "seed0" / "tier_select.json").read_text())
    assert len(report) == 3  # one tier per quality cluster, even where modes coincide
    assert sum(t["share"] for t in report) == pytest.approx(1.0, abs=1e-3)
    assert sum(t["n_val"] for t in report) == 64
    rows = json.loads((out / "results.json").read_text())
    assert {"dqmq/tiers", "dqmq/tiers_select", "static/select"} <= {r["method"] for r in rows}

    # the tiers step cuts the same regions and writes a quality router that the deploy reads
    from codesign.flow.config import load_flow_config
    from codesign.flow.dqmq import TIERS_FILE
    from codesign.flow.runner import run_flow
    from codesign.flow.steps import STEPS

    flow.write_text(FLOW.replace("steps: [train_dqmq]", "steps: [train_dqmq, tiers]"))
    cfg = load_flow_config(flow, STEPS).with_overrides(out_dir=tmp_path / "run")
    run_flow(cfg, STEPS)
    tiers_json = json.loads((tmp_path / "run" / TIERS_FILE).read_text())
    assert tiers_json["router"]["kind"] == "quality" and tiers_json["k"] == 3
    router = router_from_dict(tiers_json["router"])
    assert isinstance(router, QualityRouter) and router.centres.shape[0] == 3
    order = tiers_json["fit_index"]  # sorted by the modes' cost
    assert tiers_json["choices"] == [report[i]["chosen"] for i in order]
    assert router.tiers.tolist() == [report[i]["mode"] for i in order]
    assert tiers_json["share"] == [report[i]["share"] for i in order]
