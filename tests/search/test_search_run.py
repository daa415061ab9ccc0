"""``run_search`` end to end at toy size (no hardware): report, winners, emitted flows, CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner
from cost_double import ToyCostModel, toy_specs

from codesign.flow.config import load_flow_config
from codesign.search.efficiency import spec_pricer
from codesign.search.run import REPORT_FILE, SearchTarget, run_search

FLOWS = Path(__file__).resolve().parents[2] / "flows"
TINY = {
    "n_train": 256,
    "n_test": 64,
    "supernet_epochs": 1,
    "n_fp32": 8,
    "m_quant": 4,
    "n_held": 4,
    "qat_steps": 2,
    "n_val": 100,
    "population": 8,
    "iterations": 2,
    "finetune_steps": 2,
    "emit_top": 2,
    "frames": 16,
}


def _tiny_flow(tmp_path: Path) -> Path:
    text = (FLOWS / "apq.yaml").read_text()
    for key, value in TINY.items():
        text, n = re.subn(rf"(\n\s+{key}:) \d+", rf"\1 {value}", text)
        assert n == 1, key
    text = text.replace("batch_size: 64", "batch_size: 32")
    path = tmp_path / "tiny.yaml"
    path.write_text(text)
    return path


def test_search_reports_winners_and_emits_loadable_flows(tmp_path: Path) -> None:
    from codesign.cost.db import ResultsDB

    cfg = load_flow_config(_tiny_flow(tmp_path))
    db = ResultsDB(f"sqlite:///{tmp_path / 'results.sqlite'}")
    report = run_search(
        cfg,
        SearchTarget("pynq-z2", fps=20_000),
        tmp_path / "run",
        price_fn=spec_pricer(ToyCostModel(), toy_specs),
        cost_version="toy-1",
        hardware_for=(),
        results_db=db,
    )
    methods = [w["method"] for w in report["winners"]]
    assert methods[:3] == ["joint", "sequential", "random"]
    saved = json.loads((tmp_path / "run" / REPORT_FILE).read_text())
    assert saved["winners"] == json.loads(json.dumps(report["winners"]))
    for w in report["winners"]:
        assert 0 <= w["test_accuracy"] <= 1
        assert w["estimated"]["lut"] <= report["limit"]["lut"]
        flow = load_flow_config(Path(w["flow"]))
        assert flow.search is None and flow.compile.fps == 20_000
        assert list(flow.model.build_arch().widths) == w["widths"]
        # Each layer compiles the MVU it was priced as.
        impls = flow.model.build_bits(flow.model.build_arch()).impls
        assert [str(i) for i in impls] == w["impls"]
    assert 1 <= len(report["emitted"]) <= 2
    rows = db.query(stage="search")
    assert sorted(r["name"] for r in rows) == sorted(m.replace(" ", "_") for m in methods)
    joint = next(r for r in rows if r["name"] == "joint")
    assert joint["meta"]["test_accuracy"] == report["winners"][0]["test_accuracy"]
    # A re-run resumes the supernet and samples instead of training again.
    again = run_search(
        cfg,
        SearchTarget("pynq-z2", fps=20_000),
        tmp_path / "run",
        price_fn=spec_pricer(ToyCostModel(), toy_specs),
        cost_version="toy-1",
        hardware_for=(),
    )
    assert again["seconds"]["supernet"] == 0.0


def test_cli_rejects_a_flow_without_search_in_one_line() -> None:
    from codesign.cli.main import cli

    result = CliRunner().invoke(cli, ["search", str(FLOWS / "quickstart.yaml"), "--fps", "1000"])
    assert result.exit_code != 0
    assert "no 'search:' section" in str(result.exception) + result.output


def test_hardware_for_a_winner_needs_an_injected_hardware_function(tmp_path: Path) -> None:
    import pytest

    from codesign.errors import ConfigError

    cfg = load_flow_config(_tiny_flow(tmp_path))
    with pytest.raises(ConfigError, match="hardware for joint needs a hardware function"):
        run_search(
            cfg,
            SearchTarget("pynq-z2", fps=20_000),
            tmp_path / "run",
            price_fn=spec_pricer(ToyCostModel(), toy_specs),
            cost_version="toy-1",
            hardware_for=("joint",),
        )
    assert not (tmp_path / "run").exists()  # refused before any work
