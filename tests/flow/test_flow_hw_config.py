"""Flow config of the hardware steps: compile, simulate and synth sections."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesign.errors import ConfigError
from codesign.flow.config import DEFAULT_FPS, load_flow_config, write_resolved_config
from codesign.flow.runner import run_flow
from codesign.flow.steps import STEPS

REPO = Path(__file__).resolve().parents[2]
HW_STEPS = "run:\n  steps: [train, export, compile, simulate, synth]\n"
SECTIONS = "compile: {}\nsimulate: {}\nsynth: {}\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "flow.yaml"
    path.write_text(text)
    return path


def load_error(tmp_path: Path, text: str) -> tuple[Path, str]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_flow_config(path, STEPS)
    return path, str(err.value)


def test_hardware_flow_runs_the_hardware_steps() -> None:
    cfg = load_flow_config(REPO / "flows" / "hardware.yaml")
    assert cfg.run.steps == ["train", "evaluate", "export", "compile", "simulate", "synth"]
    assert cfg.compile is not None and cfg.compile.board == "pynq-z2" and cfg.compile.fps
    assert cfg.simulate is not None and cfg.simulate.size_fifos and cfg.simulate.frames >= 100
    assert cfg.synth is not None and cfg.synth.per_layer


def test_defaults(tmp_path: Path) -> None:
    cfg = load_flow_config(write(tmp_path, HW_STEPS + SECTIONS))
    assert cfg.compile is not None and cfg.simulate is not None and cfg.synth is not None
    assert (cfg.compile.board, cfg.compile.fps, cfg.compile.lut_budget) == (
        "pynq-z2",
        DEFAULT_FPS,
        None,
    )
    assert cfg.simulate.frames == 256 and cfg.simulate.size_fifos
    assert cfg.simulate.ready_pct == 100
    assert cfg.synth.per_layer and cfg.synth.jobs == 1
    built = cfg.compile.build()
    assert (built.board, built.fps, built.lut_budget) == ("pynq-z2", DEFAULT_FPS, None)


def test_lut_budget_replaces_the_default_fps(tmp_path: Path) -> None:
    cfg = load_flow_config(write(tmp_path, "compile:\n  lut_budget: 20000\n"))
    assert cfg.compile is not None
    assert (cfg.compile.fps, cfg.compile.lut_budget) == (None, 20000)
    assert cfg.compile.build().lut_budget == 20000


def test_step_without_its_section(tmp_path: Path) -> None:
    path, msg = load_error(tmp_path, HW_STEPS + "compile: {}\nsynth: {}\n")
    assert msg == (
        f"{path}:2: step 'simulate' needs a 'simulate:' section; add one, or drop 'simulate' "
        f"from run.steps"
    )


def test_steps_are_ordered_by_their_artifacts(tmp_path: Path) -> None:
    text = "run:\n  steps: [synth, compile, simulate, export, train]\n" + SECTIONS
    cfg = load_flow_config(write(tmp_path, text), STEPS)
    assert cfg.run.steps == ["synth", "compile", "simulate", "export", "train"]  # as written
    from codesign.flow.core import order_steps

    order = [s.name for s in order_steps([STEPS[n] for n in cfg.run.steps])]
    assert order == ["train", "export", "compile", "simulate", "synth"]


def test_a_step_whose_input_nothing_writes_is_rejected_before_any_step_runs(
    tmp_path: Path,
) -> None:
    text = f"run:\n  steps: [train, export, compile, synth]\n  out_dir: {tmp_path / 'r'}\n"
    cfg = load_flow_config(write(tmp_path, text + SECTIONS), STEPS)  # may come from a run
    with pytest.raises(ConfigError) as err:
        run_flow(cfg, STEPS)
    assert str(err.value) == (
        "step 'synth' reads the 'design' artifact, but no step of this flow writes it and "
        "the run folder holds none from an earlier run; add a step that writes it (simulate) "
        "to run.steps before 'synth'"
    )
    assert not (tmp_path / "r" / "steps.json").exists()


@pytest.mark.parametrize(
    ("text", "key", "allowed"),
    [
        ("compile:\n  fsp: 100\n", "compile.fsp", "board, fps, lut_budget, clock_ns"),
        ("simulate:\n  frame: 8\n", "simulate.frame", "frames, size_fifos, sizing_frames"),
        ("synth:\n  per_layers: true\n", "synth.per_layers", "per_layer, timeout_s, jobs"),
    ],
)
def test_unknown_key(tmp_path: Path, text: str, key: str, allowed: str) -> None:
    path, msg = load_error(tmp_path, text)
    section = key.split(".")[0]
    assert msg.startswith(f"{path}:2: unknown key {key!r}; allowed keys in {section}: {allowed}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("compile:\n  fps: -5\n", ":2: compile.fps: Input should be greater than 0"),
        ("compile:\n  fps: fast\n", ":2: compile.fps: Input should be a valid number"),
        ("simulate:\n  ready_pct: 0\n", ":2: simulate.ready_pct: Input should be greater than"),
        ("simulate:\n  ready_pct: 101\n", ":2: simulate.ready_pct: Input should be less than"),
        ("simulate:\n  frames: 0\n", ":2: simulate.frames: Input should be greater than"),
        ("simulate:\n  size_fifos: maybe\n", ":2: simulate.size_fifos: Input should be a valid"),
        ("synth:\n  timeout_s: 0\n", ":2: synth.timeout_s: Input should be greater than 0"),
        ("synth:\n  jobs: 0\n", ":2: synth.jobs: Input should be greater than or equal to 1"),
    ],
)
def test_bad_values(tmp_path: Path, text: str, expected: str) -> None:
    path, msg = load_error(tmp_path, text)
    assert msg.startswith(f"{path}{expected}"), msg


def test_fps_and_lut_budget_are_exclusive(tmp_path: Path) -> None:
    path, msg = load_error(tmp_path, "compile:\n  fps: 1000\n  lut_budget: 5000\n")
    assert msg == (
        f"{path}:2: compile.fps and compile.lut_budget are both set; keep one of them "
        f"(fps folds to a throughput, lut_budget to the fastest design that fits)"
    )


def test_unknown_board_lists_the_known_ones(tmp_path: Path) -> None:
    path, msg = load_error(tmp_path, "compile:\n  board: pynq-z9\n")
    assert msg.startswith(f"{path}:2: compile.board: ")
    assert "unknown board 'pynq-z9'" in msg and "pynq-z2" in msg and "zcu104" in msg


def test_frames_must_fit_the_test_subset(tmp_path: Path) -> None:
    text = "data:\n  n_test: 100\nsimulate:\n  frames: 256\n"
    path, msg = load_error(tmp_path, text)
    assert msg == (
        f"{path}:4: simulate.frames is 256 but data.n_test is 100: the simulated frames come "
        f"from the test subset; lower simulate.frames or raise data.n_test"
    )


def test_hardware_sections_round_trip(tmp_path: Path) -> None:
    text = (
        HW_STEPS
        + "compile:\n  board: zcu104\n  lut_budget: 30000\n  clock_ns: 5\n"
        + "simulate:\n  frames: 16\n  size_fifos: false\n  ready_pct: 50\n"
        + "synth:\n  per_layer: false\n  jobs: 2\n"
    )
    cfg = load_flow_config(write(tmp_path, text))
    again = load_flow_config(write_resolved_config(cfg, tmp_path / "run" / "config.yaml"))
    assert again.to_yaml_dict() == cfg.to_yaml_dict()
    assert again.compile is not None and again.compile.lut_budget == 30000
    assert again.compile.fps is None and again.compile.clock_ns == 5
