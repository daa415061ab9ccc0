"""Measured rounds: the pricing corrected with measurements, the search re-run, resumed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from cost_double import ToyCostModel, toy_specs
from test_search_run import _tiny_flow

from codesign.boards import load_board
from codesign.errors import ConfigError
from codesign.flow.config import FlowConfig, load_flow_config
from codesign.resources import Resources
from codesign.search.efficiency import spec_pricer
from codesign.search.feedback import Correction, MeasuredPoint, measured_resources
from codesign.search.rounds import ROUNDS_FILE
from codesign.search.run import REPORT_FILE, SearchTarget, run_search

FPS = 20_000


class FakeHardware:
    """Measures a design as 1.3 x the toy model's LUTs + 200 (a model that under-prices)."""

    def __init__(self) -> None:
        self.built: list[str] = []
        self.price = spec_pricer(ToyCostModel(), toy_specs)
        self.clock = load_board("pynq-z2").clock_mhz

    def __call__(
        self, flow: FlowConfig, model: torch.nn.Module, run_dir: Path, *, progress: Any = None
    ) -> dict[str, Any]:
        arch = flow.model.build_arch()
        bits = flow.model.build_bits(arch)
        est = self.price(arch, bits, bits.impls, FPS, self.clock).resources
        self.built.append(run_dir.name)
        whole = {**est.to_dict(), "lut": round(1.3 * est.lut + 200)}
        return {
            "synth": {"whole": whole},
            "simulate": {"fps": FPS * 1.01, "bit_exact": {"finn": True, "brevitas": True}},
            "seconds": {"step_synth": 0.0},
        }


def test_correction_takes_the_largest_measured_ratio_and_prices_with_it() -> None:
    pts = [
        MeasuredPoint("a", Resources(lut=1000, dsp=4), Resources(lut=1500, dsp=4)),
        MeasuredPoint("b", Resources(lut=2000), Resources(lut=2200)),
    ]
    corr = Correction.fit(pts)
    assert corr.factors == {"lut": 1.5} and corr.fitted_on == ("a", "b")
    assert Correction.fit([]).identity and Correction.fit(pts, ("dsp",)).factors == {"dsp": 1.0}

    class P:
        resources = Resources(lut=100, ff=7)

        def fps(self, clock_mhz: float) -> float:
            return clock_mhz

    priced = corr.apply(P())
    assert priced.resources == Resources(lut=150, ff=7) and priced.fps(100.0) == 100.0
    with pytest.raises(ValueError, match="unknown resource 'luts'"):
        Correction.fit(pts, ("luts",))
    assert measured_resources({"whole": {"lut": 5, "dsp": 1}}) == Resources(lut=5, dsp=1)
    assert measured_resources({}) is None


def test_rounds_correct_the_pricing_until_the_measured_winner_fits(tmp_path: Path) -> None:
    from codesign.cost.db import ResultsDB

    cfg = load_flow_config(_tiny_flow(tmp_path))
    hw = FakeHardware()
    db = ResultsDB(f"sqlite:///{tmp_path / 'results.sqlite'}")
    kw = {
        "price_fn": spec_pricer(ToyCostModel(), toy_specs),
        "cost_version": "toy-1",
        "hardware_for": ("joint", "sequential"),
        "hardware": hw,
        "rounds": 4,
    }
    report = run_search(cfg, SearchTarget("pynq-z2", FPS), tmp_path / "run", results_db=db, **kw)
    rounds = report["rounds"]
    b = report["limit"]["lut"]
    assert rounds["budget_lut"] == b and rounds["reference"] == "sequential"
    seq, joint = rounds["methods"]["sequential"], rounds["methods"]["joint"]
    # Round 0 is the plain search at the estimated budget, measured over it.
    assert seq["rounds"][0]["correction"]["factors"] == {}
    assert seq["rounds"][0]["measured"]["lut"] > b
    assert seq["converged"] and seq["rounds"][-1]["measured"]["lut"] <= b
    assert len(seq["rounds"]) >= 2
    ratios = []
    for r in seq["rounds"]:
        if ratios:  # each round prices with the largest ratio measured before it
            assert r["correction"]["factors"]["lut"] == pytest.approx(max(ratios), abs=1e-4)
            assert r["estimated_lut"] * max(ratios) <= b + 1e-6
        ratios.append(r["measured"]["lut"] / r["estimated_lut"])
    # The joint search runs under the sequential winner's measured LUTs, priced with
    # the corrections measured so far.
    assert joint["measured_budget_lut"] == min(b, seq["rounds"][-1]["measured"]["lut"])
    assert joint["rounds"][0]["correction"]["factors"]["lut"] == pytest.approx(max(ratios), 1e-3)
    if joint["converged"]:
        assert joint["rounds"][-1]["measured"]["lut"] <= joint["measured_budget_lut"]
    assert hw.built == [f"sequential_r{i}" for i in range(len(seq["rounds"]))] + [
        f"joint_r{i}" for i in range(len(joint["rounds"]))
    ]
    saved = json.loads((tmp_path / "run" / REPORT_FILE).read_text())
    assert saved["rounds"] == json.loads(json.dumps(rounds))
    names = {r["name"] for r in db.query(stage="search")}
    assert set(hw.built) <= names
    # A re-run resumes every measured round instead of building again.
    n = len(hw.built)
    again = run_search(cfg, SearchTarget("pynq-z2", FPS), tmp_path / "run", **kw)
    assert len(hw.built) == n

    def untimed(res: dict[str, Any]) -> list[Any]:
        return [
            [{k: v for k, v in r.items() if not k.endswith("_s")} for r in m["rounds"]]
            for m in res["methods"].values()
        ]

    assert untimed(again["rounds"]) == untimed(json.loads(json.dumps(rounds)))
    assert (tmp_path / "run" / ROUNDS_FILE).is_file()
    # The CLI's table shows every round.
    from rich.console import Console

    from codesign.cli.search import _rounds_table

    console = Console(record=True, width=200)
    console.print(_rounds_table(rounds))
    text = console.export_text()
    assert text.count("sequential") == len(seq["rounds"]) and "True" in text


def test_rounds_refuse_a_method_the_search_does_not_run(tmp_path: Path) -> None:
    cfg = load_flow_config(_tiny_flow(tmp_path))
    kw = {"price_fn": spec_pricer(ToyCostModel(), toy_specs), "cost_version": "toy-1"}
    with pytest.raises(ConfigError, match="runs no method 'greedy'"):
        run_search(
            cfg,
            SearchTarget("pynq-z2", FPS),
            tmp_path / "run",
            hardware_for=("greedy",),
            hardware=FakeHardware(),
            rounds=2,
            **kw,
        )
    with pytest.raises(ConfigError, match="--rounds needs a method to build"):
        run_search(
            cfg, SearchTarget("pynq-z2", FPS), tmp_path / "run", hardware_for=(), rounds=2, **kw
        )
    assert not (tmp_path / "run").exists()


def test_cli_rounds_without_a_method_to_build_is_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from codesign.cli.main import cli

    flow = _tiny_flow(tmp_path)
    args = ["search", str(flow), "--rounds", "2", "--hardware", "none", "--db", "none"]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "run")])
    assert result.exit_code != 0
    assert "--rounds needs a method to build" in str(result.exception) + result.output
    assert not (tmp_path / "run").exists()
