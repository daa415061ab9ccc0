"""The feedback step: two rounds on tiny designs (compile + Yosys), refit between them."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import yaml

from codesign.cost.calibration import load_calibration
from codesign.cost.db import ResultsDB
from codesign.errors import ConfigError
from codesign.flow.config import FlowConfig
from codesign.flow.feedback import FeedbackSection, load_proposals, step_feedback
from codesign.flow.runner import FlowState


def _proposal(weight: int, act: int) -> dict[str, object]:
    arch = {
        "stages": [{"width": 4, "kernel": 3, "stride": 2}],
        "num_classes": 4,
        "in_channels": 1,
        "input_size": 8,
    }
    bits = {
        "input_bits": 4,
        "layers": [{"weight": weight, "act": act}, {"weight": weight, "act": None}],
    }
    return {"arch": arch, "bits": bits, "fps": 100_000}


def test_bad_proposals_are_one_line(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump([{"arch": {}}]))
    with pytest.raises(ConfigError, match="design 0 needs arch, bits and fps"):
        load_proposals(path, "pynq-z2")


def test_proposals_carry_their_mvu_implementation(tmp_path: Path) -> None:
    from codesign.cost.protocol import Impl

    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump([_proposal(2, 2), {**_proposal(4, 4), "impl": "lut"}]))
    assert [p.impl for p in load_proposals(path, "pynq-z2")] == [Impl.DSP, Impl.LUT]
    path.write_text(yaml.safe_dump([{**_proposal(2, 2), "impl": "hls"}]))
    with pytest.raises(ConfigError, match="design 0: impl 'hls' is not one of dsp, lut"):
        load_proposals(path, "pynq-z2")


@pytest.mark.slow
@pytest.mark.yosys
def test_two_feedback_rounds(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = FlowState(run_dir=tmp_path)
    for round_no, bits in ((1, (4, 4)), (2, (2, 2))):
        proposals = tmp_path / f"proposals{round_no}.yaml"
        proposals.write_text(yaml.safe_dump([_proposal(*bits)]))
        cfg = FlowConfig(feedback=FeedbackSection(proposals=proposals, whole=False, kinds=["mvau"]))
        with caplog.at_level(logging.INFO, logger="codesign.flow.feedback"):
            state = step_feedback(state, cfg)
        summary = state.results["feedback"]
        assert summary["round"] == round_no
        cal = load_calibration(str(state.path("cost_model")))
        assert cal.revision == round_no and cal.name.endswith(f"-r{round_no}")
        assert cal.provenance["round"] == round_no
        before = {r["kind"]: r for r in summary["before"]}
        after = {r["kind"]: r for r in summary["after"]}
        # the refit is fitted to these points: their LUT error does not grow overall
        assert after["all"]["lut_mape"] <= before["all"]["lut_mape"]
        assert after["all"]["dsp_exact"] == 100.0
        # only the MVAUs were synthesized (DSP MVUs: PE = 1, or PE > 1 with packed lanes)
        assert set(before) - {"all"} <= {"mvau_dsp", "mvau_dsp_packed"} and len(before) == 2
        assert f"feedback round {round_no}, all" in caplog.text
    # round 2 started from round 1's model and refitted on both rounds' points
    assert cal.provenance["previous"].endswith("-r1")
    assert cal.provenance["fit_points"] == 2
    rounds = json.loads((tmp_path / "feedback" / "round2.json").read_text())
    assert rounds["points"] == summary["points"]
    # a run folder of the round imports into a fresh results database: estimate + Yosys
    run = tmp_path / "feedback" / "runs" / summary["points"][0]
    db = ResultsDB(f"sqlite:///{tmp_path / 'import.sqlite'}")
    assert len(db.record_run_folder(run)) == 2 and db.record_run_folder(run) == []
    assert {r["stage"] for r in db.query()} == {"compile", "synth"}
    mvau = db.query(level="layer", stage="synth", kind="mvau")
    assert len(mvau) == 2 and all(r["dsp"] > 0 and r["tool"] == "yosys" for r in mvau)
