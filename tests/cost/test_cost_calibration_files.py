"""Calibration files: round trip, load by name, Vivado precedence, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesign.cost.calibration import Calibration, load_calibration, load_cost_model
from codesign.errors import ConfigError
from codesign.resources import Resources


def _cal(tool: str, version: str, base: float) -> Calibration:
    return Calibration(
        family="xc7",
        tool=tool,
        tool_version=version,
        coefs={"fifo": {"base": (base, 1.0), "width": (1.0, 1.0)}},
        overhead=(Resources(lut=10), Resources()),
        provenance={"board": "pynq-z2", "points": 3},
    )


def test_round_trip_and_precedence(tmp_path: Path) -> None:
    yosys = _cal("yosys", "Yosys 0.70 (git sha1 abc)", 11.0).save(tmp_path / "a.json")
    assert load_calibration("xc7-yosys-0.70", tmp_path).coefs["fifo"]["base"] == (11.0, 1.0)
    assert load_calibration(str(yosys)).name == "xc7-yosys-0.70"
    yosys_version = load_cost_model("xc7", folder=tmp_path).version
    assert yosys_version == f"xc7-yosys-0.70@{load_calibration(str(yosys)).digest()}"
    _cal("vivado", "Vivado v2024.2", 22.0).save(tmp_path / "b.json")
    assert load_cost_model("xc7", folder=tmp_path).version.startswith("xc7-vivado-2024.2@")
    assert load_cost_model("xc7", folder=tmp_path, tool="yosys").version == yosys_version
    assert load_cost_model("xcup", folder=tmp_path).version == "analytic-0"


def test_a_refit_under_the_same_name_has_another_version(tmp_path: Path) -> None:
    """Checkpoints and reports keyed by the version must not take a refit for the old fit."""
    first = _cal("yosys", "Yosys 0.70", 11.0)
    refit = _cal("yosys", "Yosys 0.70", 12.0)
    assert first.name == refit.name
    assert first.model().version != refit.model().version
    relabelled = Calibration.from_dict({**first.to_dict(), "provenance": {"points": 99}})
    assert relabelled.model().version == first.model().version
    refit.save(tmp_path / "refit.json")
    assert load_calibration(refit.model().version, tmp_path).coefs == refit.coefs
    with pytest.raises(ConfigError, match=f"now holds fit {refit.digest()}, not "):
        load_calibration(first.model().version, tmp_path)


def test_unknown_name_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no calibration named 'nope'; available: none"):
        load_calibration("nope", tmp_path)


@pytest.mark.parametrize(("family", "board"), [("xc7", "Pynq-Z2"), ("xcup", "KV260")])
def test_shipped_calibrations_carry_provenance_and_held_out_errors(family: str, board: str) -> None:
    model = load_cost_model(family)
    assert model.version.startswith(f"{family}-yosys-0.70@")
    cal = load_calibration(model.version)
    assert cal.family == family and cal.tool == "yosys"
    assert cal.provenance["board"].lower() == board.lower()
    assert cal.provenance["fit_points"] >= 6
    held_out = {row["kind"]: row for row in cal.errors if "kind" in row}["all"]
    assert held_out["n"] >= 20 and 0 < held_out["lut_mape"] < 25
