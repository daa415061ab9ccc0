"""``dqmq.router: quality``: tiers cut by k-means on quality features, nearest-centre routing."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from codesign.cli.main import run_cli
from codesign.errors import ConfigError
from codesign.policy.quality_router import QualityRouter, fit_quality_router, router_from_dict
from codesign.policy.tiers import Router
from tests.train.test_dqmq_budget_select import FLOW as BUDGET_FLOW


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


# the budget-select test's tiny flow, its tiers cut by quality
FLOW = BUDGET_FLOW.replace("tiers: 2", "tiers: 3\n  router: quality")


def test_evaluate_and_the_tiers_step_route_by_quality(tmp_path, capsys):
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    out = tmp_path / "cmp"
    code = run_cli(["evaluate", str(flow), "--seeds", "0", "--out", str(out)])
    if code and "dataset" in capsys.readouterr().err.lower():
        pytest.skip("Fashion-MNIST not installed")
    assert code == 0
    report = json.loads((out / "seed0" / "tier_select.json").read_text())
    assert len(report) == 3  # one tier per quality cluster, even where modes coincide
    assert sum(t["share"] for t in report) == pytest.approx(1.0, abs=1e-3)
    assert sum(t["n_val"] for t in report) == 128  # two draws of 64
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
