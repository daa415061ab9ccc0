"""The hardware steps: compile, simulate and synth of a tiny trained CNN, end to end.

The flow trains a one-stage CNN on 8x8 digits for a few batches, compiles it for a Pynq-Z2,
sizes its FIFOs and simulates test images in Verilator (bit-exact against FINN and
Brevitas), and synthesizes it with Yosys. It runs once per module (``tiny_run``); each
test that changes the flow works on its own copy of that run folder, so one failure does
not hide the others. Verilator builds and Yosys results are cached under the session's
cache folder (see tests/conftest.py).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from codesign.cli.main import cli
from codesign.errors import DatasetMissingError
from codesign.flow.config import FlowConfig, load_flow_config
from codesign.flow.core import FlowState, Step
from codesign.flow.hardware import check_against_brevitas
from codesign.flow.report import hardware_report
from codesign.flow.runner import run_flow
from codesign.flow.steps import STEPS
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


@dataclass
class TinyRun:
    root: Path
    flow: Path
    exit_code: int
    output: str

    @property
    def run_dir(self) -> Path:
        return self.root / "run"


@pytest.fixture(scope="module")
def digits() -> None:
    from codesign.data import load_dataset

    try:
        load_dataset("digits", "test")
    except DatasetMissingError as err:
        pytest.skip(str(err))  # the message says how to install it


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, digits: None) -> TinyRun:
    """The tiny flow, run once per module through the CLI (tests read it, never change it)."""
    root = tmp_path_factory.mktemp("tiny_hw")
    flow = root / "tiny.yaml"
    flow.write_text(TINY_HW_FLOW)
    result = CliRunner().invoke(cli, ["run", str(flow)])
    return TinyRun(root, flow, result.exit_code, result.output)


def copy_of(run: TinyRun, tmp_path: Path, flow_text: str) -> TinyRun:
    """A per-test copy of the module's run folder, with the flow file changed."""
    assert run.exit_code == 0, run.output
    shutil.copytree(run.run_dir, tmp_path / "run", symlinks=True)
    flow = tmp_path / "tiny.yaml"
    flow.write_text(flow_text)
    return TinyRun(tmp_path, flow, 0, "")


@pytest.mark.verilator
@pytest.mark.yosys
@pytest.mark.slow
def test_tiny_flow_runs_every_step(tiny_run: TinyRun) -> None:
    assert tiny_run.exit_code == 0, tiny_run.output
    steps = steps_json(tiny_run.run_dir)
    assert list(steps) == ["train", "export", "compile", "simulate", "synth"]
    assert all(s["status"] == "done" and s["seconds"] > 0 for s in steps.values()), steps
    # Each step read exactly what its producer wrote.
    assert steps["export"]["reads"] == steps["train"]["artifact_digests"]
    assert (
        steps["simulate"]["reads"]["checkpoint"] == steps["train"]["artifact_digests"]["checkpoint"]
    )
    assert "hardware: pynq-z2 at 100 MHz" in tiny_run.output
    assert "bit-exact" in tiny_run.output and "RTL accuracy" in tiny_run.output


@pytest.mark.verilator
@pytest.mark.yosys
@pytest.mark.slow
def test_tiny_flow_report_puts_estimates_next_to_measurements(tiny_run: TinyRun) -> None:
    assert tiny_run.exit_code == 0, tiny_run.output
    report = json.loads((tiny_run.run_dir / "report.json").read_text())
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
    for rel in (
        "compile/compiled.onnx",
        "compile/sized.onnx",
        "compile/folding_config.json",
        "compile/sim/result.json",
        "compile/synth/report.json",
    ):
        assert (tiny_run.run_dir / rel).is_file(), rel
    # FIFO sizing wrote its own design; compile's stays as compile wrote it.
    from codesign.flow.core import artifact_digest

    steps = steps_json(tiny_run.run_dir)
    compiled = tiny_run.run_dir / "compile" / "compiled.onnx"
    assert artifact_digest(compiled) == steps["compile"]["artifact_digests"]["compiled"]
    assert steps["simulate"]["artifacts"]["design"] == "compile/sized.onnx"
    assert steps["synth"]["reads"]["design"] == steps["simulate"]["artifact_digests"]["design"]


@pytest.mark.verilator
@pytest.mark.yosys
@pytest.mark.slow
def test_changed_synth_section_reruns_synth_only(tiny_run: TinyRun, tmp_path: Path) -> None:
    run = copy_of(tiny_run, tmp_path, TINY_HW_FLOW.replace("timeout_s: 600", "timeout_s: 900"))
    steps = steps_json(run.run_dir)
    hw = json.loads((run.run_dir / "report.json").read_text())["hardware"]
    again = CliRunner().invoke(cli, ["run", str(run.flow)])
    assert again.exit_code == 0, again.output
    assert again.output.count("done (reused)") == 4
    steps2 = steps_json(run.run_dir)
    assert steps2["synth"]["digest"] != steps["synth"]["digest"]
    assert steps2["synth"]["results"]["cached"] == 1  # the same design: Yosys is not re-run
    for name in ("train", "export", "compile", "simulate"):
        assert steps2[name]["reused"] and steps2[name]["started"] == steps[name]["started"]
    report2 = json.loads((run.run_dir / "report.json").read_text())
    assert report2["hardware"] == hw
    assert report2["steps"]["synth"]["seconds"] == steps2["synth"]["seconds"]


@pytest.mark.verilator
@pytest.mark.yosys
@pytest.mark.slow
def test_unsized_fifos_rerun_simulate_and_synth(tiny_run: TinyRun, tmp_path: Path) -> None:
    text = TINY_HW_FLOW.replace("frames: 24", "frames: 24\n  size_fifos: false")
    run = copy_of(tiny_run, tmp_path, text)
    analytic = json.loads((run.run_dir / "report.json").read_text())["hardware"][
        "cycles_per_frame"
    ]["analytic"]
    unsized = CliRunner().invoke(cli, ["run", str(run.flow)])
    assert unsized.exit_code == 0, unsized.output
    assert unsized.output.count("done (reused)") == 3
    hw4 = json.loads((run.run_dir / "report.json").read_text())["hardware"]
    assert hw4["fifo_sizing"] is None and hw4["bit_exact"]["brevitas"]
    assert hw4["cycles_per_frame"]["measured"] >= analytic
    assert not (run.run_dir / "compile" / "folding_config.json").exists()
    assert not (run.run_dir / "compile" / "sized.onnx").exists()
    steps = steps_json(run.run_dir)
    assert steps["simulate"]["artifacts"]["design"] == "compile/compiled.onnx"
    assert steps["synth"]["reads"]["design"] == steps["compile"]["artifact_digests"]["compiled"]


@pytest.mark.verilator
@pytest.mark.yosys
@pytest.mark.slow
def test_rtl_that_differs_from_brevitas_fails_simulate(
    tiny_run: TinyRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import codesign.flow.hardware as hardware

    real = hardware.brevitas_integers

    def off_by_one(*args: object, **kwargs: object) -> np.ndarray:
        out = real(*args, **kwargs)
        out[5, 2] += 1
        return out

    monkeypatch.setattr(hardware, "brevitas_integers", off_by_one)
    text = TINY_HW_FLOW.replace("frames: 24", "frames: 24\n  ready_pct: 50")
    run = copy_of(tiny_run, tmp_path, text)
    bad = CliRunner().invoke(cli, ["run", str(run.flow)])
    assert bad.exit_code == 1
    assert isinstance(bad.exception, SimMismatchError)
    assert "first at frame 5, output 2" in str(bad.exception)
    steps3 = steps_json(run.run_dir)
    assert steps3["simulate"]["status"] == "failed"
    assert "differs from the Brevitas model's" in steps3["simulate"]["error"]


def train_alt(state: FlowState, cfg: FlowConfig) -> FlowState:
    """A trainer registered under another name: it writes ``checkpoint`` as ``train`` does.

    It trains with the built-in loop (same data, seed and settings as the tiny flow), so
    the design it leads to is the tiny flow's and its Verilator build comes from the
    session cache: the test pays for the plumbing, not for another cold build.
    """
    from codesign.flow.steps import step_train

    state = step_train(state, cfg)
    state.results["train_alt"] = state.results.pop("train")
    return state


ALT_FLOW = (
    TINY_HW_FLOW.replace(
        "steps: [train, export, compile, simulate, synth]",
        "steps: [simulate, compile, export, train_alt]   # any order: the artifacts decide",
    )
    .replace("frames: 24", "frames: 24\n  size_fifos: false")
    .split("synth:")[0]
)


@pytest.mark.verilator
@pytest.mark.slow
def test_a_trainer_with_another_name_feeds_export_compile_and_simulate(
    tmp_path: Path, digits: None
) -> None:
    registry = {
        **STEPS,
        "train_alt": Step(
            "train_alt", train_alt, sections=("data", "model", "train"), writes=("checkpoint",)
        ),
    }
    flow = tmp_path / "alt.yaml"
    flow.write_text(ALT_FLOW)
    with pytest.raises(Exception, match="unknown step 'train_alt'"):
        load_flow_config(flow, STEPS)  # not a built-in step
    cfg = load_flow_config(flow, registry)
    result = run_flow(cfg, registry)
    assert [r.name for r in result.records] == ["train_alt", "export", "compile", "simulate"]
    assert all(r.status == "done" for r in result.records)
    sim = result.state.results["simulate"]
    assert sim["bit_exact"] == {"finn": True, "brevitas": True} and sim["frames"] == 24
    assert "train" not in result.state.results and result.state.results["train_alt"]
    steps = steps_json(tmp_path / "run")
    ckpt = steps["train_alt"]["artifact_digests"]["checkpoint"]
    assert steps["export"]["reads"] == {"checkpoint": ckpt}
    assert steps["simulate"]["reads"]["checkpoint"] == ckpt
    again = run_flow(cfg, registry)
    assert all(r.reused for r in again.records)
