"""``--out`` on existing folders: what is replaced, resumed, refused, and what is always kept."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from faults import Inputs, changes, copy_into, invoke, snapshot

from codesign.errors import ConfigError, OutputPathError
from codesign.runs import MARKER_FILE, Mode, RunKind, claim_out_dir, find_run_dir, sweep_stale_work

PYNQ = ["--board", "pynq-z2", "--fps", "100000"]


def _user_snapshot(before: dict[str, str], after: dict[str, str], rels: list[str]) -> None:
    """Every user file is still there with the same content."""
    for rel in rels:
        key = f"work/{rel}"
        assert after.get(key) == before[key], key


def test_out_dot_with_force_writes_beside_user_files_then_replaces_only_its_own(
    inputs: Inputs, sandbox: Path, tmp_path: Path
) -> None:
    for clashing in ("config.yaml", "logs"):  # names a compile writes: --force refuses them
        p = sandbox / clashing
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    model = copy_into(inputs.onnx_dir, tmp_path / "in") / "model.onnx"
    before = snapshot(tmp_path)
    res = invoke(["compile", str(model), *PYNQ, "--out", ".", "--force"], sandbox)
    assert res.code == 0, res.stderr
    after = snapshot(tmp_path)
    diff = changes(before, after)
    assert diff["changed"] == [] and diff["removed"] == []
    assert all(p.startswith("work/") for p in diff["created"])
    assert (sandbox / "compiled.onnx").is_file() and (sandbox / MARKER_FILE).is_file()
    assert sorted(json.loads((sandbox / MARKER_FILE).read_text())["foreign"]) == ["a.txt", "data"]

    # Now "." is a compile folder with user files: a second compile replaces only its own.
    (sandbox / "later.txt").write_text("added after the compile\n")
    before = snapshot(tmp_path)
    res = invoke(
        ["compile", str(model), "--board", "pynq-z2", "--fps", "50000", "--out", "."], sandbox
    )
    assert res.code == 0, res.stderr
    after = snapshot(tmp_path)
    _user_snapshot(before, after, ["a.txt", "data/b.csv", "later.txt"])
    assert "fps: 50000" in (sandbox / "config.yaml").read_text()
    assert not [p for p in tmp_path.rglob(".*") if p.name.endswith((".tmp", ".old"))]


def test_compile_replaces_its_own_run_folder_and_keeps_user_files_in_it(
    inputs: Inputs, sandbox: Path, tmp_path: Path
) -> None:
    run = copy_into(inputs.compiled, sandbox / "run")
    (run / "notes.txt").write_text("mine\n")
    (run / "sim").mkdir()
    (run / "sim" / "old_result.json").write_text("{}")  # codesign's: a stale simulation
    model = copy_into(inputs.onnx_dir, tmp_path / "in") / "model.onnx"
    res = invoke(
        ["compile", str(model), "--board", "pynq-z2", "--fps", "50000", "--out", "run"], sandbox
    )
    assert res.code == 0, res.stderr
    assert (run / "notes.txt").read_text() == "mine\n"
    assert not (run / "sim").exists()  # codesign wrote it for the old design: replaced
    assert "fps: 50000" in (run / "config.yaml").read_text()
    assert json.loads((run / MARKER_FILE).read_text())["kind"] == "compile"
    assert sorted(p.name for p in sandbox.iterdir() if p.name.startswith(".")) == []


def test_default_out_creates_only_its_run_folder(
    inputs: Inputs, sandbox: Path, tmp_path: Path
) -> None:
    model = copy_into(inputs.onnx_dir, tmp_path / "in") / "model.onnx"
    before = snapshot(tmp_path)
    res = invoke(["compile", str(model), *PYNQ], sandbox)
    assert res.code == 0, res.stderr
    diff = changes(before, snapshot(tmp_path))
    assert diff["changed"] == [] and diff["removed"] == []
    assert {p.split("/")[1] for p in diff["created"]} == {"runs"}
    assert all(p.startswith("work/runs/compile-model") or p == "work/runs" for p in diff["created"])
    assert "FINN estimates" in res.stdout and res.stderr.count("error:") == 0


def test_run_resumes_its_own_flow_folder(inputs: Inputs, sandbox: Path, tmp_path: Path) -> None:
    run = copy_into(inputs.flow_run, sandbox / "flowrun")
    flow = copy_into(inputs.flow_file, sandbox / "flow.yaml")
    model_before = (run / "train" / "model.pt").read_bytes()
    res = invoke(["run", str(flow), "--out", str(run)], sandbox)
    assert res.code == 0, res.stderr
    assert res.stdout.count("done (reused)") == 4
    assert (run / "train" / "model.pt").read_bytes() == model_before


def test_failed_first_run_leaves_no_folder(inputs: Inputs, sandbox: Path, tmp_path: Path) -> None:
    flow = copy_into(inputs.flow_file, sandbox / "flow.yaml")
    res = invoke(["run", str(flow), "--out", "runs/new", "--from-step", "compile"], sandbox)
    assert res.code == 1
    assert not (sandbox / "runs").exists()


def test_simulate_synth_build_find_the_compile_folder_of_a_flow_run(inputs: Inputs) -> None:
    assert find_run_dir(inputs.flow_run, RunKind.COMPILE) == inputs.flow_run / "compile"
    assert find_run_dir(inputs.compiled, RunKind.COMPILE) == inputs.compiled
    with pytest.raises(OutputPathError, match="is not a codesign run folder"):
        find_run_dir(inputs.onnx_dir, RunKind.COMPILE)


def test_claim_rules(tmp_path: Path) -> None:
    assert claim_out_dir(tmp_path / "a" / "b", RunKind.COMPILE).mode is Mode.NEW
    (tmp_path / "empty").mkdir()
    assert claim_out_dir(tmp_path / "empty", RunKind.FLOW).mode is Mode.NEW
    out = claim_out_dir(tmp_path / "x" / "y", RunKind.FLOW)
    out.prepare()
    assert claim_out_dir(tmp_path / "x" / "y", RunKind.FLOW).mode is Mode.SAME
    with pytest.raises(OutputPathError, match="is a codesign flow run folder, not a compile"):
        claim_out_dir(tmp_path / "x" / "y", RunKind.COMPILE, force=True)
    out.abandon()  # holds only its marker: removed, with the parent it created
    assert not (tmp_path / "x").exists()


def test_stale_work_folders_of_killed_runs_are_swept(tmp_path: Path) -> None:
    dead = tmp_path / ".out.999999999.abc.tmp"  # no such pid
    mine = tmp_path / f".out.{os.getpid()}.abc.tmp"
    other = tmp_path / ".out.notes.tmp"  # not ours: no pid
    for p in (dead, mine, other):
        p.mkdir()
    sweep_stale_work(tmp_path / "out")
    assert not dead.exists() and mine.exists() and other.exists()


def test_fifo_hint_when_measured_misses_analytic() -> None:
    from types import SimpleNamespace

    from codesign.cli.simulate import fifo_hint

    slow = SimpleNamespace(cycles_vs_analytic=1.44, fps=36_437.0)
    hint = fifo_hint(slow, Path("runs/x"), sized=False)
    assert hint is not None and "1.44x slower" in hint and "--size-fifos" in hint
    assert "52,469 FPS" in hint
    assert fifo_hint(SimpleNamespace(cycles_vs_analytic=1.04, fps=1.0), Path("r"), False) is None
    assert fifo_hint(slow, Path("r"), sized=True) is None


@pytest.mark.verilator
def test_failed_verilator_builds_leave_no_temp_folder(tmp_path: Path) -> None:
    from codesign.errors import ToolFailedError
    from codesign.settings import Settings
    from codesign.sim.stitch import BuildPlan
    from codesign.sim.verilator import build

    settings = Settings.from_env()
    settings = Settings(**{**settings.__dict__, "cache_dir": tmp_path / "cache"})
    plan = BuildPlan(
        files={"top.sv": "module top(; endmodule\n"},
        command=("verilator", "--lint-only", "top.sv"),
        executable="obj_dir/Vtop",
        tool_version="test",
        streams=(),
        fifos=(),
        trace="",
    )
    with pytest.raises(ToolFailedError, match="Verilator build exited"):
        build(plan, tmp_path / "logs", settings)
    with pytest.raises(ToolFailedError, match="timed out"):
        build(plan, tmp_path / "logs", settings, timeout_s=1e-4)
    with pytest.raises(ConfigError, match="must be positive"):
        build(plan, tmp_path / "logs", settings, timeout_s=0)
    assert list((tmp_path / "cache" / "verilator").iterdir()) == []


def test_out_dot_in_an_empty_folder_stays_the_same_folder(inputs: Inputs, tmp_path: Path) -> None:
    here = tmp_path / "empty"
    here.mkdir()
    inode = here.stat().st_ino
    model = copy_into(inputs.onnx_dir, tmp_path / "in") / "model.onnx"
    for fps in ("100000", "50000"):  # created, then replaced
        res = invoke(
            ["compile", str(model), "--board", "pynq-z2", "--fps", fps, "--out", "."], here
        )
        assert res.code == 0, res.stderr
        assert here.stat().st_ino == inode  # the shell's working folder was not swapped away
        assert f"fps: {fps}" in (here / "config.yaml").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_exit_codes_of_tool_failures_and_commands_that_exit_themselves(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import codesign.cli.doctor as doctor_cli
    from codesign.errors import ToolFailedError

    def failing_tool(*args: object, **kwargs: object) -> None:
        raise ToolFailedError("yosys failed (exit 1) synthesizing x")

    monkeypatch.setattr(doctor_cli, "run_checks", failing_tool)
    res = invoke(["doctor"], tmp_path)
    assert res.code == 4 and res.errors == ["error: yosys failed (exit 1) synthesizing x"]
    monkeypatch.setattr(doctor_cli, "run_checks", lambda *a, **k: [])
    monkeypatch.setattr(doctor_cli, "all_required_ok", lambda results: False)
    res = invoke(["doctor"], tmp_path)
    assert res.code == 1 and "not ready" in res.stdout


def test_run_with_force_writes_beside_user_files(
    inputs: Inputs, sandbox: Path, tmp_path: Path
) -> None:
    flow = copy_into(inputs.flow_file, tmp_path / "flow.yaml")
    before = snapshot(tmp_path)
    res = invoke(["run", str(flow), "--out", "data", "--force", "--to-step", "train"], sandbox)
    assert res.code == 0, res.stderr
    diff = changes(before, snapshot(tmp_path))
    assert diff["changed"] == [] and diff["removed"] == []  # data/b.csv untouched
    assert all(p.startswith("work/data/") for p in diff["created"])
    assert (sandbox / "data" / "train" / "model.pt").is_file()
    assert json.loads((sandbox / "data" / MARKER_FILE).read_text())["foreign"] == ["b.csv"]
