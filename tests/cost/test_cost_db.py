"""Results database: schema versions, writes, filters, exports, concurrent processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from codesign.cost.db import SCHEMA_VERSION, ResultsDB, export_rows
from codesign.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _design(i: int, **kw: object) -> dict[str, object]:
    return {
        "stage": "synth",
        "run_dir": f"/r/{i}",
        "design_digest": f"d{i}",
        "board": "Pynq-Z2",
        "family": "xc7",
        "tool": "yosys",
        "tool_version": "Yosys 0.70",
        "lut": 100.0 + i,
        "dsp": 2.0,
        **kw,
    }


def _layers(n: int) -> list[dict[str, object]]:
    return [
        {"name": f"MVAU_rtl_{j}", "kind": "mvau", "resources": {"lut": 10.0 * j}} for j in range(n)
    ]


def test_schema_is_migrated_and_a_newer_one_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    db = ResultsDB(url)
    assert db.schema_version == SCHEMA_VERSION
    assert {"designs", "layers", "calibration_points", "schema_version"} <= set(db.tables())
    ResultsDB(url)  # reopening runs no migration twice
    assert db.schema_version == SCHEMA_VERSION
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO schema_version VALUES (99)"))
    with pytest.raises(ConfigError, match="schema version 99, newer than"):
        ResultsDB(url)


def test_write_filter_export(tmp_path: Path) -> None:
    db = ResultsDB(f"sqlite:///{tmp_path / 'r.sqlite'}")
    assert db.add_design(_design(1), _layers(3)) is not None
    assert db.add_design(_design(1), _layers(3)) is None  # same provenance: not twice
    db.add_design(_design(2, stage="compile", tool="finn-plus", board="ZCU104", family="xcup"))
    assert len(db.query()) == 2
    assert [r["run_dir"] for r in db.query(stage="synth")] == ["/r/1"]
    assert [r["run_dir"] for r in db.query(board="zcu104")] == ["/r/2"]
    layers = db.query(level="layer", kind="mvau")
    assert [r["name"] for r in layers] == ["MVAU_rtl_0", "MVAU_rtl_1", "MVAU_rtl_2"]
    assert layers[2]["lut"] == 20.0 and layers[2]["tool_version"] == "Yosys 0.70"
    csv_text = export_rows(db.query(), "csv")
    assert csv_text.splitlines()[0].startswith("id,stage,name,run_dir")
    assert len(csv_text.splitlines()) == 3
    assert json.loads(export_rows(layers, "json"))[0]["kind"] == "mvau"
    with pytest.raises(ConfigError, match="export format must be csv or json"):
        export_rows([], "xml")


def test_point_records_are_stored_once(tmp_path: Path) -> None:
    db = ResultsDB(f"sqlite:///{tmp_path / 'r.sqlite'}")
    node = {
        "name": "FIFO_0",
        "spec": {"kind": "fifo", "pe": 1, "simd": 1, "act_in": [4, False]},
        "measured": {"lut": 5.0},
        "cycles": 0,
        "design_digest": "x",
    }
    record = {
        "key": "k1",
        "point": {"role": "holdout"},
        "nodes": [node],
        "whole": {"resources": {"lut": 9.0}, "design_digest": "w"},
        "tool": "yosys",
    }
    assert db.record_point(record) and not db.record_point(record)
    assert db.has_point("k1") and not db.has_point("k2")
    assert db.points(role="holdout")[0]["key"] == "k1"
    assert sorted(r["name"] for r in db.query()) == ["design", "layers"]


_WRITER = """
import sys
from codesign.cost.db import ResultsDB
db = ResultsDB(sys.argv[1])
for i in range(int(sys.argv[3])):
    layers = [{"name": f"n{j}", "resources": {"lut": j}} for j in range(5)]
    assert db.add_design({"stage": "synth", "run_dir": f"{sys.argv[2]}/{i}", "lut": i}, layers)
"""


def test_concurrent_processes_lose_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    ResultsDB(url)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, url, f"p{k}", "40"], env=env)
        for k in range(3)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    db = ResultsDB(url)
    assert db.count() == 120 and db.count("layer") == 600
    assert len({r["run_dir"] for r in db.query()}) == 120


def test_bad_url_is_one_line() -> None:
    with pytest.raises(ConfigError, match="cannot open results database"):
        ResultsDB("nosuchdialect://x")


def test_results_cli_lists_filters_exports(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from codesign.cli.main import cli

    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    db = ResultsDB(url)
    db.add_design(_design(1), _layers(2))
    db.add_design(_design(2, stage="compile", tool="finn-plus"))
    runner = CliRunner()
    res = runner.invoke(cli, ["results", "list", "--db", url, "--stage", "synth"])
    assert res.exit_code == 0, res.output
    assert "1 design row(s)" in res.output
    out = tmp_path / "layers.json"
    res = runner.invoke(
        cli,
        [
            "results",
            "export",
            "--db",
            url,
            "--level",
            "layer",
            "--kind",
            "mvau",
            "--format",
            "json",
            "-o",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert [r["name"] for r in json.loads(out.read_text())] == ["MVAU_rtl_0", "MVAU_rtl_1"]
    res = runner.invoke(cli, ["results", "import", "--db", url, str(tmp_path)])
    assert res.exit_code != 0 and "is not a compile run folder" in str(res.exception or res.output)
