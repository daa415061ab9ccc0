"""The flow runner with fake steps: records, timings, resume, from/to step, a killed step."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from codesign.errors import CodesignError, ConfigError
from codesign.flow.config import FlowConfig, load_flow_config
from codesign.flow.runner import FlowState, Step, run_flow
from codesign.io import atomic_write_text


class FakeFlow:
    """Two steps that write one file each and count their calls."""

    def __init__(self, sleep: float = 0.0, fail_in: str | None = None) -> None:
        self.calls: list[str] = []
        self.sleep = sleep
        self.fail_in = fail_in

    def train(self, state: FlowState, cfg: FlowConfig) -> FlowState:
        self.calls.append("train")
        time.sleep(self.sleep)
        path = atomic_write_text(state.run_dir / "train" / "model.txt", f"lr={cfg.train.lr}")
        state.add_artifact("checkpoint", path)
        state.results["train"] = {"lr": cfg.train.lr}
        return state

    def evaluate(self, state: FlowState, cfg: FlowConfig) -> FlowState:
        self.calls.append("evaluate")
        model = state.path("checkpoint").read_text()
        if self.fail_in == "evaluate":
            raise RuntimeError("boom")
        path = atomic_write_text(state.run_dir / "report.txt", f"{model} sev={cfg.evaluate}")
        state.add_artifact("report", path)
        state.results["evaluate"] = {"model": model}
        return state

    @property
    def registry(self) -> dict[str, Step]:
        return {
            "train": Step(
                "train", self.train, sections=("data", "model", "train"), writes=("checkpoint",)
            ),
            "evaluate": Step(
                "evaluate",
                self.evaluate,
                sections=("data", "evaluate"),
                reads=("checkpoint",),
                writes=("report",),
            ),
        }


def make_cfg(run_dir: Path, **run: object) -> FlowConfig:
    fields = {"out_dir": str(run_dir), "steps": ["train", "evaluate"], **run}
    return FlowConfig.model_validate({"run": fields})


def steps_json(run_dir: Path) -> dict[str, dict]:
    return {r["name"]: r for r in json.loads((run_dir / "steps.json").read_text())["steps"]}


def test_first_run_records_each_step_with_its_time(tmp_path: Path) -> None:
    flow = FakeFlow(sleep=0.2)
    result = run_flow(make_cfg(tmp_path / "run"), flow.registry)
    assert flow.calls == ["train", "evaluate"]
    recs = steps_json(result.run_dir)
    assert [r["status"] for r in recs.values()] == ["done", "done"]
    assert recs["train"]["seconds"] >= 0.2
    assert 0 <= recs["evaluate"]["seconds"] < recs["train"]["seconds"]
    assert recs["train"]["artifacts"] == {"checkpoint": "train/model.txt"}
    assert recs["evaluate"]["results"] == {"model": "lr=0.002"}
    assert (result.run_dir / "config.yaml").is_file()
    log = (result.run_dir / "flow.log").read_text()
    assert "step train: done in" in log
    # The written config is the resolved one and loads back.
    assert load_flow_config(result.run_dir / "config.yaml").run.out_dir == result.run_dir


def test_written_config_names_the_run_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = FlowConfig.model_validate({"run": {"name": "dflt", "steps": ["train", "evaluate"]}})
    result = run_flow(cfg, FakeFlow().registry)
    assert result.run_dir == tmp_path / "runs" / "dflt"
    written = load_flow_config(result.run_dir / "config.yaml")
    assert written.run.out_dir == result.run_dir


def test_rerun_skips_completed_steps(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path / "run")
    run_flow(cfg, FakeFlow().registry)
    flow = FakeFlow()
    result = run_flow(cfg, flow.registry)
    assert flow.calls == []
    assert all(r.reused and r.status == "done" for r in result.records)
    # Skipped steps still hand their artifacts and results on.
    assert result.state.path("report").is_file()
    assert result.state.results["train"] == {"lr": 0.002}


def test_changed_section_reruns_that_step_and_later_ones(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_flow(make_cfg(run_dir), FakeFlow().registry)

    flow = FakeFlow()
    cfg = make_cfg(run_dir).model_copy(deep=True)
    cfg.evaluate.severities = [5]
    run_flow(cfg, flow.registry)
    assert flow.calls == ["evaluate"]

    flow = FakeFlow()
    cfg.train.lr = 0.01
    run_flow(cfg, flow.registry)
    assert flow.calls == ["train", "evaluate"]
    assert "lr=0.01" in (run_dir / "report.txt").read_text()


def test_missing_artifact_reruns_the_step(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path / "run")
    run_flow(cfg, FakeFlow().registry)
    (tmp_path / "run" / "train" / "model.txt").unlink()
    flow = FakeFlow()
    run_flow(cfg, flow.registry)
    # train wrote the same bytes again: evaluate's input has the same digest, so it stays.
    assert flow.calls == ["train"]
    (tmp_path / "run" / "report.txt").unlink()
    flow = FakeFlow()
    run_flow(cfg, flow.registry)
    assert flow.calls == ["evaluate"]


def test_failed_step_is_recorded_and_reruns(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path / "run")
    with pytest.raises(RuntimeError, match="boom"):
        run_flow(cfg, FakeFlow(fail_in="evaluate").registry)
    recs = steps_json(tmp_path / "run")
    assert recs["train"]["status"] == "done"
    assert recs["evaluate"]["status"] == "failed"
    assert recs["evaluate"]["error"] == "RuntimeError: boom"

    flow = FakeFlow()
    run_flow(cfg, flow.registry)
    assert flow.calls == ["evaluate"]
    assert steps_json(tmp_path / "run")["evaluate"]["status"] == "done"


def test_from_step_reruns_from_there(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path / "run")
    run_flow(cfg, FakeFlow().registry)
    flow = FakeFlow()
    run_flow(cfg.with_overrides(from_step="evaluate"), flow.registry)
    assert flow.calls == ["evaluate"]


def test_from_step_without_earlier_outputs_fails(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path / "run").with_overrides(from_step="evaluate")
    with pytest.raises(ConfigError, match="needs the outputs of step 'train'"):
        run_flow(cfg, FakeFlow().registry)


def test_to_step_stops_early_and_rerun_continues(tmp_path: Path) -> None:
    flow = FakeFlow()
    run_flow(make_cfg(tmp_path / "run", to_step="train"), flow.registry)
    assert flow.calls == ["train"]
    assert steps_json(tmp_path / "run")["evaluate"]["status"] == "pending"
    flow = FakeFlow()
    run_flow(make_cfg(tmp_path / "run"), flow.registry)
    assert flow.calls == ["evaluate"]


def test_rerun_of_earlier_step_marks_later_ones_stale(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path / "run")
    run_flow(cfg, FakeFlow().registry)
    # The same bytes again: the reader stays valid.
    run_flow(cfg.with_overrides(to_step="train", from_step="train"), FakeFlow().registry)
    assert steps_json(tmp_path / "run")["evaluate"]["status"] == "done"
    cfg = cfg.model_copy(deep=True)
    cfg.train.lr = 0.5
    run_flow(cfg.with_overrides(to_step="train"), FakeFlow().registry)
    recs = steps_json(tmp_path / "run")
    assert recs["evaluate"]["status"] == "stale"
    assert (
        recs["evaluate"]["reads"]["checkpoint"] != recs["train"]["artifact_digests"]["checkpoint"]
    )
    flow = FakeFlow()
    run_flow(cfg, flow.registry)
    assert flow.calls == ["evaluate"]


KILLED_FLOW = """
import os, signal, sys
from pathlib import Path
from codesign.flow.config import FlowConfig
from codesign.flow.runner import Step, run_flow
from codesign.io import atomic_write_text

def train(state, cfg):
    state.add_artifact("checkpoint", atomic_write_text(state.run_dir / "ckpt.txt", "w"))
    return state

def evaluate(state, cfg):
    (state.run_dir / "partial.txt").write_text("half")
    os.kill(os.getpid(), signal.SIGKILL)

steps = {
    "train": Step("train", train, ("train",), writes=("checkpoint",)),
    "evaluate": Step("evaluate", evaluate, reads=("checkpoint",)),
}
cfg = {"run": {"out_dir": sys.argv[1], "steps": ["train", "evaluate"]}}
run_flow(FlowConfig.model_validate(cfg), steps)
"""


def test_killed_step_reruns(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    script = tmp_path / "killed.py"
    script.write_text(textwrap.dedent(KILLED_FLOW))
    proc = subprocess.run([sys.executable, str(script), str(run_dir)], check=False, timeout=120)
    assert proc.returncode == -9
    recs = steps_json(run_dir)
    assert recs["train"]["status"] == "done"
    assert recs["evaluate"]["status"] == "running"

    flow = FakeFlow()
    registry = flow.registry
    registry["train"] = Step("train", flow.train, sections=("train",), writes=("checkpoint",))
    run_flow(make_cfg(run_dir), registry)
    assert flow.calls == ["evaluate"]  # train was done with this config; evaluate was killed
    assert steps_json(run_dir)["evaluate"]["status"] == "done"


def test_only_dependents_of_a_rerun_step_rerun(tmp_path: Path) -> None:
    calls: list[str] = []

    def export(state: FlowState, cfg: FlowConfig) -> FlowState:
        calls.append("export")
        state.add_artifact("qonnx", atomic_write_text(state.run_dir / "q.txt", "q"))
        return state

    def registry(flow: FakeFlow) -> dict[str, Step]:
        reg = flow.registry
        reg["export"] = Step("export", export, reads=("checkpoint",), writes=("qonnx",))
        return reg

    cfg = make_cfg(tmp_path / "run", steps=["train", "evaluate", "export"])
    run_flow(cfg, registry(FakeFlow()))
    assert calls == ["export"]

    flow = FakeFlow()
    cfg = cfg.model_copy(deep=True)
    cfg.evaluate.severities = [1]
    run_flow(cfg, registry(flow))
    assert flow.calls == ["evaluate"] and calls == ["export"]  # export reads train only

    cfg.train.lr = 0.01  # train writes other bytes: what reads them is stale
    run_flow(cfg.with_overrides(to_step="evaluate"), registry(flow))
    assert steps_json(tmp_path / "run")["export"]["status"] == "stale"
    run_flow(cfg, registry(flow))
    assert calls == ["export", "export"]


def test_steps_run_in_artifact_order_not_listed_order(tmp_path: Path) -> None:
    flow = FakeFlow()
    result = run_flow(make_cfg(tmp_path / "run", steps=["evaluate", "train"]), flow.registry)
    assert flow.calls == ["train", "evaluate"]
    assert [r.name for r in result.records] == ["train", "evaluate"]


def test_steps_reading_each_other_in_a_cycle_are_rejected(tmp_path: Path) -> None:
    flow = FakeFlow()
    reg = flow.registry
    reg["train"] = Step("train", flow.train, reads=("report",), writes=("checkpoint",))
    with pytest.raises(ConfigError, match="steps train, evaluate read each other's artifacts"):
        run_flow(make_cfg(tmp_path / "run"), reg)
    assert flow.calls == []


def test_two_writers_of_one_artifact_are_rejected(tmp_path: Path) -> None:
    flow = FakeFlow()
    reg = flow.registry
    reg["train_alt"] = Step("train_alt", flow.train, writes=("checkpoint",))
    cfg = make_cfg(tmp_path / "run", steps=["train", "train_alt", "evaluate"])
    with pytest.raises(ConfigError) as err:
        run_flow(cfg, reg)
    assert str(err.value) == (
        "steps 'train' and 'train_alt' both write the 'checkpoint' artifact; keep one of them "
        "in run.steps"
    )


def test_another_trainer_feeds_the_same_readers(tmp_path: Path) -> None:
    flow = FakeFlow()
    reg = flow.registry
    reg["train_alt"] = Step("train_alt", flow.train, sections=("train",), writes=("checkpoint",))
    run_flow(make_cfg(tmp_path / "run", steps=["train_alt", "evaluate"]), reg)
    assert flow.calls == ["train", "evaluate"]
    recs = steps_json(tmp_path / "run")
    assert recs["evaluate"]["reads"] == recs["train_alt"]["artifact_digests"]


def test_an_artifact_left_by_an_earlier_run_feeds_a_later_flow(tmp_path: Path) -> None:
    run_flow(make_cfg(tmp_path / "run", steps=["train"]), FakeFlow().registry)
    flow = FakeFlow()
    result = run_flow(make_cfg(tmp_path / "run", steps=["evaluate"]), flow.registry)
    assert flow.calls == ["evaluate"]
    assert [r.name for r in result.records] == ["evaluate"]
    assert set(steps_json(tmp_path / "run")) == {"train", "evaluate"}  # train's record stays
    # Without that earlier run there is nothing to read: one line naming the artifact.
    with pytest.raises(ConfigError, match="step 'evaluate' reads the 'checkpoint' artifact, "):
        run_flow(make_cfg(tmp_path / "other", steps=["evaluate"]), flow.registry)


def test_a_step_writing_an_undeclared_artifact_fails(tmp_path: Path) -> None:
    flow = FakeFlow()
    reg = flow.registry
    reg["train"] = Step("train", flow.train)
    with pytest.raises(RuntimeError, match="wrote the artifact.s. checkpoint without declaring"):
        run_flow(make_cfg(tmp_path / "run", steps=["train"]), reg)


def test_second_run_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with (run_dir / ".flow.lock").open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(CodesignError, match="another flow run is using .*pass --out"):
            run_flow(make_cfg(run_dir), FakeFlow().registry)
    flow = FakeFlow()
    run_flow(make_cfg(run_dir), flow.registry)  # free again
    assert flow.calls == ["train", "evaluate"]
