"""The hardware steps: compile, simulate and synth of a tiny trained CNN, end to end.

The flow trains a one-stage CNN on 8x8 digits for a few batches, compiles it for a Pynq-Z2,
sizes its FIFOs and simulates test images in Verilator (bit-exact against FINN and
Brevitas), and synthesizes it with Yosys. Verilator builds and Yosys results are cached
under the settings cache folder: a cold run takes about two minutes on two cores, a second
session about 15 seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from codesign.cli.main import cli
from codesign.errors import DatasetMissingError
from codesign.flow.hardware import check_against_brevitas
from codesign.flow.report import hardware_report
from codesign.sim import SimMismatchError

TINY_HW_FLOW = """
run:
  name: tiny_hw
  out_dir: run
  steps: [train, export, compile, simulate, synth]
data:
  dataset: digits
  n_train: 256
  n_test: 64
  batch_size: 32
model:
  arch: {stages: [{width: 4, stride: 2}], input_size: 8}
  weight_bits: 4
  act_bits: 4
train:
  epochs: 2
  lr: 0.02
compile:
  board: pynq-z2
  fps: 100000
simulate:
  frames: 24
  sizing_frames: 8
synth:
  per_layer: false
  timeout_s: 600
"""


def steps_json(run_dir: Path) -> dict[str, dict]:
    return {r["name"]: r for r in json.loads((run_dir / "steps.json").read_text())["steps"]}


def test_brevitas_mismatch_names_the_first_difference() -> None:
    expected = np.arange(30, dtype=np.int64).reshape(3, 10)
    check_against_brevitas(expected.copy(), expected)
    rtl = expected.copy()
    rtl[1, 4] += 1
    rtl[2, 0] -= 3
    with pytest.raises(SimMismatchError) as err:
        check_against_brevitas(rtl, expected)
    assert str(err.value) == (
        "Verilator output differs from the Brevitas model's: first at frame 1, output 4: "
        "RTL 15 != Brevitas 14 (2 of 3 frames differ)"
    )
    with pytest.raises(SimMismatchError, match=r"shape \(3, 9\) differs .* \(3, 10\)"):
        check_against_brevitas(rtl[:, :9], expected)


def test_hardware_report_without_simulation() -> None:
    compile_results = {
        "board": "pynq-z2",
        "part": "xc7z020clg400-1",
        "clock_ns": 10.0,
        "target_fps": 1000.0,
        "lut_budget": None,
        "estimated_fps": 1234.5,
        "bottleneck": "MVAU_rtl_0",
        "max_cycles": 81004,
        "estimate": {"lut": 100, "ff": None, "bram18": 1, "dsp": 2},
    }
    assert hardware_report({"train": {}}) is None
    hw = hardware_report({"compile": compile_results})
    assert hw is not None
    assert hw["fps"] == {"estimated": 1234.5, "measured": None}
    assert hw["cycles_per_frame"]["analytic"] == 81004
    assert hw["cycles_per_frame"]["measured"] is None
    assert hw["latency"] == {"cycles": None, "us": None}
    assert hw["resources"] == {"finn": compile_results["estimate"], "yosys": None}
    assert hw["bit_exact"] is None


@pytest.mark.verilator
@pytest.mark.yosys
@pytest.mark.slow
def test_tiny_hardware_flow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from codesign.data import load_dataset

    try:
        load_dataset("digits", "test")
    except DatasetMissingError as err:
        pytest.skip(str(err))
    flow = tmp_path / "tiny.yaml"
    flow.write_text(TINY_HW_FLOW)
    result = CliRunner().invoke(cli, ["run", str(flow)])
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "run"
    steps = steps_json(run_dir)
    assert all(s["status"] == "done" and s["seconds"] > 0 for s in steps.values()), steps

    report = json.loads((run_dir / "report.json").read_text())
    hw = report["hardware"]
    assert (hw["board"], hw["clock_ns"], hw["target_fps"]) == ("pynq-z2", 10.0, 100_000.0)
    assert hw["bit_exact"] == {"frames": 24, "finn": True, "brevitas": True}
    assert 0.0 <= hw["rtl_accuracy"] <= 1.0
    # FINN's analytic model vs Verilator, after FIFO sizing: the sized design runs at the
    # bottleneck's rate (2% is the sizing tolerance).
    cycles = hw["cycles_per_frame"]
    assert hw["fifo_sizing"]["reached"]
    assert cycles["analytic"] <= cycles["measured"] <= 1.02 * cycles["analytic"], cycles
    assert hw["fps"]["estimated"] >= 100_000
    assert hw["fps"]["measured"] == pytest.approx(1e8 / cycles["measured"], rel=1e-3)
    assert hw["latency"]["cycles"] >= cycles["analytic"] / 2
    finn, yosys = hw["resources"]["finn"], hw["resources"]["yosys"]
    assert finn["ff"] is None  # FINN has no FF model
    assert yosys["lut"] > 0 and yosys["ff"] > 0
    assert yosys["dsp"] >= finn["dsp"] > 0  # FINN counts the MVAUs' DSPs, Yosys maps them
    assert set(report["steps"]) == {"train", "export", "compile", "simulate", "synth"}
    assert "hardware: pynq-z2 at 100 MHz" in result.output
    assert "bit-exact" in result.output and "RTL accuracy" in result.output
    for rel in (
        "compile/compiled.onnx",
        "compile/folding_config.json",
        "compile/sim/result.json",
        "compile/synth/report.json",
    ):
        assert (run_dir / rel).is_file(), rel

    # A change to the synth section re-runs synth only (and Yosys' result comes from the cache).
    flow.write_text(TINY_HW_FLOW.replace("timeout_s: 600", "timeout_s: 900"))
    again = CliRunner().invoke(cli, ["run", str(flow)])
    assert again.exit_code == 0, again.output
    assert again.output.count("done (reused)") == 4
    steps2 = steps_json(run_dir)
    assert steps2["synth"]["digest"] != steps["synth"]["digest"]
    assert steps2["synth"]["results"]["cached"] == 1  # the same design: Yosys is not re-run
    for name in ("train", "export", "compile", "simulate"):
        assert steps2[name]["reused"] and steps2[name]["started"] == steps[name]["started"]
    report2 = json.loads((run_dir / "report.json").read_text())
    assert report2["hardware"] == hw
    assert report2["steps"]["synth"]["seconds"] == steps2["synth"]["seconds"]

    # size_fifos: false re-runs simulate (on FINN's FIFO depths, sizing undone) and synth.
    flow.write_text(TINY_HW_FLOW.replace("frames: 24", "frames: 24\n  size_fifos: false"))
    unsized = CliRunner().invoke(cli, ["run", str(flow)])
    assert unsized.exit_code == 0, unsized.output
    assert unsized.output.count("done (reused)") == 3
    hw4 = json.loads((run_dir / "report.json").read_text())["hardware"]
    assert hw4["fifo_sizing"] is None and hw4["bit_exact"]["brevitas"]
    assert hw4["cycles_per_frame"]["measured"] >= cycles["analytic"]
    assert not (run_dir / "compile" / "folding_config.json").exists()
    assert not (run_dir / "compile" / "compiled.unsized.onnx").exists()

    # An RTL output that differs from Brevitas fails the simulate step, loudly.
    import codesign.flow.hardware as hardware

    real = hardware.brevitas_integers

    def off_by_one(*args: object, **kwargs: object) -> np.ndarray:
        out = real(*args, **kwargs)
        out[5, 2] += 1
        return out

    monkeypatch.setattr(hardware, "brevitas_integers", off_by_one)
    flow.write_text(TINY_HW_FLOW.replace("frames: 24", "frames: 24\n  ready_pct: 50"))
    bad = CliRunner().invoke(cli, ["run", str(flow)])
    assert bad.exit_code == 1
    assert isinstance(bad.exception, SimMismatchError)
    assert "first at frame 5, output 2" in str(bad.exception)
    steps3 = steps_json(run_dir)
    assert steps3["simulate"]["status"] == "failed"
    assert "differs from the Brevitas model's" in steps3["simulate"]["error"]
