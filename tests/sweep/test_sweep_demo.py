"""The demo's chain end to end at toy size (``make demo`` = flows/quickstart.yaml, then
flows/sweep-demo.yaml): DQMQ on mixed-quality data with the calibrated cost model, K = 2
tiers deployed (compile, Verilator bit-exact, Yosys), one cost-model feedback round on the
tiers, then the sweep of the tiers as design points, and the HTML report.

Toy size: scikit-learn's 8x8 digits, one 4-channel conv stage, 1 epoch. The tier points
of the sweep reuse the deploy step's Verilator builds and Yosys results (same designs,
FIFOs unsized in both), which the test checks through their LUT counts. The demo's uniform
points are left out here (a third Verilator build and Yosys run would take the test over
its time budget); uniform sweep points are what tests/sweep/test_sweep_run.py runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from codesign.cost.calibration import load_calibration
from codesign.data.datasets import load_dataset
from codesign.errors import DatasetMissingError
from codesign.flow.config import load_flow_config
from codesign.flow.runner import run_flow
from codesign.flow.steps import STEPS
from codesign.sweep.report import write_report
from codesign.sweep.runner import run_sweep
from codesign.sweep.spec import load_sweep_spec
from codesign.sweep.store import PointStatus, PointStore

pytestmark = [pytest.mark.slow, pytest.mark.verilator, pytest.mark.yosys]

ARCH = {
    "stages": [{"width": 4, "kernel": 3, "stride": 2}],
    "num_classes": 10,
    "in_channels": 1,
    "input_size": 8,
}
COMMON = {
    "data": {"dataset": "digits", "n_train": 256, "n_test": 64, "batch_size": 32},
    "model": {"arch": ARCH, "input_bits": 4},
    "compile": {"board": "pynq-z2", "fps": 20000, "impl": "lut"},
    "simulate": {"frames": 8, "size_fifos": False},
    "synth": {"per_layer": False},
}
DQMQ_FLOW = {
    "run": {"name": "toy-dqmq", "steps": ["train_dqmq", "tiers", "deploy_tiers", "feedback_tiers"]},
    **COMMON,
    "dqmq": {
        "candidates": [[2, 2], [4, 4]],
        "input_bits": 4,
        "mix": {"clean": 0.5, "gaussian_noise": 0.25, "contrast": 0.25},
        "severities": [3],
        "eval_severities": [3],
        "epochs": 1,
        "warmup_epochs": 0,
        "cost_model": "lut",  # the calibrated model, load_cost_model("xc7"), of LUT MVUs
        "fps": 20000,
        "tiers": 2,
    },
    "feedback": {"kinds": ["mvau"], "whole": False, "jobs": 2},
}
BASE_FLOW = {
    "run": {
        "name": "toy-base",
        "steps": ["train", "evaluate", "export", "compile", "simulate", "synth"],
    },  # fmt: skip
    **COMMON,
    "train": {"epochs": 1},
    "evaluate": {"corruptions": ["gaussian_noise", "contrast"], "severities": [3]},
}
SWEEP = """\
sweep:
  name: toy-demo
  base: base.yaml
  out_dir: sweep
axes:
  bits:
    tiers: [dqmq-run]
execution:
  jobs: 2
"""


@pytest.fixture(scope="module")
def digits() -> None:
    try:
        load_dataset("digits", "test")
    except DatasetMissingError as err:
        pytest.skip(str(err))


def test_demo_chain_to_the_report(tmp_path: Path, digits: None) -> None:
    # Part 1: DQMQ -> tiers -> deploy_tiers -> feedback_tiers.
    (tmp_path / "dqmq.yaml").write_text(yaml.safe_dump(DQMQ_FLOW, sort_keys=False))
    cfg = load_flow_config(tmp_path / "dqmq.yaml", STEPS)
    run = tmp_path / "dqmq-run"
    result = run_flow(cfg.with_overrides(out_dir=run), STEPS)
    assert [r.status for r in result.records] == ["done"] * 4
    assert result.state.results["train_dqmq"]["cost_version"].startswith("xc7-yosys")

    deploy = json.loads((run / "dqmq" / "deploy.json").read_text())
    tiers = deploy["tiers"]
    assert len(tiers) == 2 and tiers[0]["bits"] != tiers[1]["bits"]
    for t in tiers:
        assert t["sim"]["bit_exact_vs_finn"] and t["sim"]["bit_exact_vs_switchable"]
        assert t["synth"]["lut"] > 0 and t["synth"]["dsp"] == 0  # LUT MVUs, as priced

    proposals = yaml.safe_load((run / "dqmq" / "proposals.yaml").read_text())
    assert [p["bits"] for p in proposals] == json.loads((run / "dqmq" / "tiers.json").read_text())[
        "tiers"
    ]
    fb = result.state.results["feedback_tiers"]
    assert fb["round"] == 1 and len(fb["points"]) == 2
    cal = load_calibration(str(result.state.path("cost_model")))
    assert cal.name.endswith("-r1") and cal.provenance["previous"].startswith("xc7-yosys")
    assert {r["kind"] for r in fb["after"]} >= {"mvau_lut", "all"}  # the deployed MVUs

    # Part 2: the sweep runs the tiers as design points.
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(BASE_FLOW, sort_keys=False))
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    summary = run_sweep(load_sweep_spec(tmp_path / "sweep.yaml"))
    sweep_dir = tmp_path / "sweep"
    records = {r.labels["bits"]: r for r in PointStore(sweep_dir)}
    assert len(records) == 2, records.keys()
    assert all(r.status is PointStatus.DONE for r in records.values()), [
        (k, r.failure) for k, r in records.items()
    ]
    for t in tiers:
        label = f"tier{t['tier']} {t['bits']}"
        rec = records[label]
        assert "freeze_tier" in rec.steps and "train" not in rec.steps
        assert rec.bits == t["bits"]
        hw = rec.report["hardware"]
        assert hw["bit_exact"]["finn"] and hw["bit_exact"]["brevitas"]
        # the same design as deploy_tiers synthesized (cached): the same LUT count
        assert hw["resources"]["yosys"]["lut"] == t["synth"]["lut"]
    assert summary.sweep_dir == sweep_dir.resolve()

    # The report: fronts per quality, the tiers' rows, bit-exact flags, the DQMQ section.
    written = write_report(sweep_dir)
    pareto = json.loads(written.json.read_text())
    quals = {f["quality"] for f in pareto["fronts"]}
    assert quals == {"clean", "mixed", "gaussian_noise", "contrast"}
    assert all(f["points"] for f in pareto["fronts"])
    for f in pareto["fronts"]:  # a front is non-dominated: LUT up, accuracy up
        pts = f["points"]
        assert all(
            a["lut"] < b["lut"] and a["accuracy"] < b["accuracy"]
            for a, b in zip(pts, pts[1:], strict=False)
        )
    [table] = written.tables
    assert "bit-exact" in table.columns
    exact = table.columns.index("bit-exact")
    assert sorted(row[0] for row in table.rows) == sorted(f"bits={k}" for k in records)
    assert all(row[exact] == "yes (8 frames)" for row in table.rows)
    html = written.html.read_text()
    assert html.count("<tr><td>tier") == 2  # the DQMQ section: one row per tier
    assert "Cost-model feedback round 1" in html and cal.name in html
    for t in tiers:
        assert f"bits=tier{t['tier']} {t['bits']}" in html
