"""Vivado report parsers against the sample reports in tests/data/vivado (see its README).

The files under ``real/`` were written by Vivado (public repositories, origins in the README);
the expected figures below were read off those files by eye, not computed by the parser.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from codesign.build.build import collect_measurements, load_measurements
from codesign.build.vivado_reports import (
    ReportError,
    parse_ooc_json,
    parse_post_synth_resources,
    parse_timing_summary,
    parse_utilization,
)
from codesign.resources import Resources

DATA = Path(__file__).resolve().parent.parent / "data" / "vivado"


def _text(name: str) -> str:
    return (DATA / name).read_text()


def test_utilization_7series() -> None:
    rep = parse_utilization(_text("ooc_utilization_xc7z020.rpt"))
    assert rep.resources == Resources(
        lut=4321, ff=5210, bram18=2 * 2 + 3, uram=0, dsp=12, lutram=312, srl=119
    )
    assert rep.vivado_version == "2022.2"
    assert rep.device == "xc7z020clg400-1"
    assert rep.design == "finn_design_wrapper"
    assert rep.state == "Routed"


def test_utilization_ultrascale_plus() -> None:
    rep = parse_utilization(_text("ooc_utilization_xczu3eg.rpt"))
    assert rep.resources == Resources(
        lut=10234, ff=12876, bram18=2 * 7 + 4, uram=0, dsp=36, lutram=896, srl=218
    )
    assert rep.device == "xczu3eg-sfvc784-2-e"


def test_utilization_rejects_other_text() -> None:
    with pytest.raises(ReportError, match="not a Vivado utilization report"):
        parse_utilization(_text("ooc_timing_xc7z020.rpt"))


def test_timing_summary_met() -> None:
    t = parse_timing_summary(_text("ooc_timing_xc7z020.rpt"))
    assert (t.wns_ns, t.tns_ns, t.tns_failing) == (2.137, 0.0, 0)
    assert (t.whs_ns, t.ths_ns, t.ths_failing) == (0.041, 0.0, 0)
    assert t.clocks == {"ap_clk": 10.0}
    assert t.met is True
    assert t.vivado_version == "2022.2"
    assert t.fmax_mhz(10.0) == pytest.approx(1000 / (10 - 2.137))


def test_timing_summary_failing() -> None:
    t = parse_timing_summary(_text("post_route_timing_failing.rpt"))
    assert (t.wns_ns, t.tns_ns, t.tns_failing) == (-0.412, -35.918, 187)
    assert t.clocks == {"clk_fpga_0": 5.0}
    assert t.met is False
    assert t.fmax_mhz(5.0) == pytest.approx(1000 / 5.412)


def test_timing_summary_rejects_other_text() -> None:
    with pytest.raises(ReportError, match="not a Vivado timing summary"):
        parse_timing_summary(_text("ooc_utilization_xc7z020.rpt"))


def test_ooc_json_agrees_with_the_text_reports() -> None:
    res, timing = parse_ooc_json(json.loads(_text("ooc_synth_and_timing.json")))
    text = parse_utilization(_text("ooc_utilization_xc7z020.rpt")).resources
    # finn-plus's LUTRAM is "LUT as Memory" (RAM + SRL); ours is the RAM part only.
    assert res == text
    assert timing["wns_ns"] == 2.137
    assert timing["fmax_mhz"] == pytest.approx(
        parse_timing_summary(_text("ooc_timing_xc7z020.rpt")).fmax_mhz(10.0)
    )
    assert timing["vivado_version"] == "2022.2"
    with pytest.raises(ReportError, match="no LUT/FF"):
        parse_ooc_json({"DSP": 1})


def test_post_synth_resources() -> None:
    top, per = parse_post_synth_resources(json.loads(_text("post_synth_resources.json")))
    assert top == Resources(lut=9876, ff=12544, bram18=2 * 4 + 5, dsp=12, srl=301)
    assert set(per) == {"top_axi_interconnect_0_0", "MVAU_rtl_0", "StreamingFIFO_rtl_0"}
    assert per["MVAU_rtl_0"] == Resources(lut=611, ff=702, bram18=1, dsp=3, srl=4)


# --- Real Vivado reports (tests/data/vivado/real, origins in tests/data/vivado/README.md) ---

REAL = DATA / "real"


@pytest.mark.parametrize(
    ("name", "resources", "version", "device", "design", "state"),
    [
        # Vivado 2022.1, Zynq-7020 block design, placed: 7 RAMB36E1 + 6 RAMB18E1, no DSP.
        (
            "xc7z020_design_1_wrapper_utilization_placed.rpt",
            Resources(lut=5417, ff=6173, bram18=2 * 7 + 6, uram=0, dsp=0, lutram=18, srl=170),
            "2022.1",
            "xc7z020clg400-1",
            "design_1_wrapper",
            "Fully Placed",
        ),
        # Vivado 2024.1.2, ZCU104 (UltraScale+), routed: CLB LUTs, 15 RAMB36E2 + 14 RAMB18E2,
        # one URAM, a non-zero "Fixed" column.
        (
            "xczu7ev_utilization_report_ZCU104.txt",
            Resources(
                lut=86343, ff=50450, bram18=2 * 15 + 14, uram=1, dsp=303, lutram=2756, srl=402
            ),
            "2024.1.2",
            "xczu7ev-ffvc1156-2-e",
            "MLKEM_SE_QUBIP_wrapper",
            "Routed",
        ),
        # Vivado 2021.2, xczu3eg, routed, out of context: no BRAM (and no "RAMB36E2 only"
        # sub-rows), 3 DSP48E2.
        (
            "xczu3eg_binary-operators.futil-vanilla-util-route.rpt",
            Resources(lut=429, ff=299, bram18=0, uram=0, dsp=3, lutram=0, srl=0),
            "2021.2",
            "xczu3eg-sbva484-1-e",
            "main",
            "Routed",
        ),
    ],
)
def test_real_utilization(
    name: str, resources: Resources, version: str, device: str, design: str, state: str
) -> None:
    rep = parse_utilization((REAL / name).read_text())
    assert rep.resources == resources
    assert (rep.vivado_version, rep.device, rep.design, rep.state) == (
        version,
        device,
        design,
        state,
    )


def test_real_timing_summary_met() -> None:
    # Vivado 2021.2, xczu3eg, one 5 ns clock, routed; "All user specified timing constraints
    # are met." The same run as xczu3eg_binary-operators.futil-vanilla-util-route.rpt.
    t = parse_timing_summary(
        (REAL / "xczu3eg_binary-operators.futil-vanilla-timing-summary-route.rpt").read_text()
    )
    assert (t.wns_ns, t.tns_ns, t.tns_failing) == (2.221, 0.0, 0)
    assert (t.whs_ns, t.ths_ns, t.ths_failing) == (0.042, 0.0, 0)
    assert t.clocks == {"clk": 5.0}
    assert t.met is True
    assert t.vivado_version == "2021.2"
    assert t.fmax_mhz(5.0) == pytest.approx(1000 / (5.0 - 2.221))


def test_real_timing_summary_failing() -> None:
    # Vivado 2021.2, xczu3eg, 5 ns: 20 failing setup endpoints, "Timing constraints are not
    # met."
    t = parse_timing_summary(
        (REAL / "xczu3eg_inlining.futil-ultrascale-timing-summary-route.rpt").read_text()
    )
    assert (t.wns_ns, t.tns_ns, t.tns_failing) == (-0.089, -0.762, 20)
    assert (t.whs_ns, t.ths_ns, t.ths_failing) == (0.045, 0.0, 0)
    assert t.clocks == {"clk": 5.0}
    assert t.met is False
    assert t.fmax_mhz(5.0) == pytest.approx(1000 / 5.089)


@pytest.mark.parametrize(
    "name",
    ["xc7z020_design_1_wrapper_utilization_placed.rpt", "xczu7ev_utilization_report_ZCU104.txt"],
)
def test_real_utilization_is_not_a_timing_summary(name: str) -> None:
    with pytest.raises(ReportError, match="not a Vivado timing summary"):
        parse_timing_summary((REAL / name).read_text())


def test_real_timing_summary_is_not_a_utilization_report() -> None:
    text = (REAL / "xczu3eg_inlining.futil-ultrascale-timing-summary-route.rpt").read_text()
    with pytest.raises(ReportError, match="not a Vivado utilization report"):
        parse_utilization(text)


def _fake_finished_build(tmp_path: Path) -> Path:
    """A build folder laid out as a finished finn-plus Zynq build leaves it (sample reports)."""
    build = tmp_path / "build"
    report = build / "output" / "report"
    proj = tmp_path / "finn_tmp" / "vivado_stitch_proj_x1y2z3"
    report.mkdir(parents=True)
    proj.mkdir(parents=True)
    shutil.copy(DATA / "ooc_utilization_xc7z020.rpt", proj / "ooc_utilization.rpt")
    shutil.copy(DATA / "ooc_timing_xc7z020.rpt", proj / "ooc_timing.rpt")
    ooc = json.loads(_text("ooc_synth_and_timing.json"))
    ooc["vivado_proj_folder"] = str(proj)
    (report / "ooc_synth_and_timing.json").write_text(json.dumps(ooc))
    shutil.copy(DATA / "post_synth_resources.json", report / "post_synth_resources.json")
    shutil.copy(DATA / "post_route_timing_failing.rpt", report / "post_route_timing.rpt")
    (report / "metadata_builder.json").write_text('{"status": "ok", "tool_version": "2022.2"}')
    return build


def test_collect_measurements(tmp_path: Path) -> None:
    build = _fake_finished_build(tmp_path)
    found = collect_measurements(build, "xc7z020clg400-1", 10.0)
    assert [m.kind for m in found] == ["ooc_post_route", "bitfile_post_route"]
    ooc, bit = found
    assert ooc.tool == bit.tool == "vivado"
    assert ooc.tool_version == bit.tool_version == "2022.2"
    assert ooc.resources.lut == 4321 and ooc.resources.lutram == 312
    assert ooc.timing["met"] is True and ooc.timing["clock_ns"] == 10.0
    assert ooc.sources == (
        "output/report/ooc_synth_and_timing.json",
        "reports/ooc_utilization.rpt",
        "reports/ooc_timing.rpt",
    )
    # The text reports are kept next to the measurements, outside FINN's temp folder.
    assert (build / "reports" / "ooc_timing.rpt").is_file()
    assert bit.resources.lut == 9876 and bit.per_node["MVAU_rtl_0"].dsp == 3
    assert bit.timing["wns_ns"] == -0.412 and bit.timing["met"] is False
    assert load_measurements(build) == found


def test_collect_measurements_without_reports(tmp_path: Path) -> None:
    (tmp_path / "output" / "report").mkdir(parents=True)
    with pytest.raises(ReportError, match="no Vivado reports"):
        collect_measurements(tmp_path, "xc7z020clg400-1", 10.0)


def test_cli_collect_reads_a_finished_folder(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from codesign.cli.main import cli

    build = _fake_finished_build(tmp_path)
    (build / "codesign_build.json").write_text('{"clock_ns": 10.0, "board": "Pynq-Z2"}')
    result = CliRunner().invoke(
        cli,
        ["build", str(tmp_path / "run"), "--board", "pynq-z2", "--out", str(build), "--collect"],
    )
    assert result.exit_code == 0, result.output
    assert "Vivado 2022.2 measurements" in result.output
    assert "ooc_post_route" in result.output and "4321" in result.output
    assert "bitfile_post_route" in result.output and "9876" in result.output
    saved = json.loads((build / "measurements.json").read_text())
    assert [m["kind"] for m in saved] == ["ooc_post_route", "bitfile_post_route"]


def test_cli_collect_needs_a_build_folder(tmp_path: Path) -> None:
    from codesign.build.folder import read_build_meta
    from codesign.errors import ConfigError

    with pytest.raises(ConfigError, match="is not a codesign build folder"):
        read_build_meta(tmp_path)
