"""One point, inside its own process: ``python -m codesign.sweep.point TASK.json``.

The process runs the point's flow with the public flow runner
(:func:`codesign.flow.runner.run_flow`), in the point's run folder:

* steps shared between points (``train``, and ``export`` which reads only the checkpoint)
  are first taken from the sweep's shared store (``SWEEP_DIR/shared/<step>/<digest>/``)
  when another point already made them with the same step digest, and published there
  after they ran, so a point whose training config equals another's reuses its checkpoint;
* each step runs under its time limit (``SIGALRM``; the step's tool subprocesses are
  killed with it);
* the outcome (status, failure kind and reason, the flow report, per-layer resources) is
  written atomically to ``RUN/point-outcome.json``, which the sweep reads.

A fresh process per point matters: FINN and torch keep process-wide state (custom-op
registries, thread pools, RNGs).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

from codesign.errors import (
    CodesignError,
    ConfigError,
    InfeasibleError,
    StepTimeoutError,
    ToolFailedError,
    ToolNotFoundError,
)
from codesign.flow.config import FlowConfig
from codesign.flow.core import FlowState, Step, StepFn
from codesign.flow.runner import STEPS_FILE, StepRecord, load_records, run_flow
from codesign.io import atomic_write_json
from codesign.runs import RunKind, claim_out_dir
from codesign.sweep.store import FailureKind

log = logging.getLogger(__name__)

OUTCOME_FILE = "point-outcome.json"
POINT_LOCK = ".point.lock"
SHARED_DIR = "shared"
_RECORD = "record.json"


def timed_registry(registry: dict[str, Step], timeouts: dict[str, float]) -> dict[str, Step]:
    """A copy of ``registry`` whose steps named in ``timeouts`` raise past their limit.

    The limit is a :class:`StepTimeoutError` raised by ``SIGALRM``, so this works only in
    a process's main thread (each point has its own process).
    """
    return {
        name: dataclasses.replace(s, fn=_timed(s, timeouts[name])) if name in timeouts else s
        for name, s in registry.items()
    }


def _timed(step: Step, seconds: float) -> StepFn:
    def fn(state: FlowState, cfg: FlowConfig) -> FlowState:
        def on_alarm(_signum: int, _frame: object) -> None:
            raise StepTimeoutError(
                f"step {step.name!r} ran past its {seconds:g} s limit "
                f"(raise execution.timeouts.{step.name})"
            )

        old = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return step.fn(state, cfg)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)

    return fn


def seed_shared(run_dir: Path, shared_root: Path, shared: dict[str, str]) -> list[str]:
    """Copy shared step outputs made by other points into ``run_dir``; return the steps."""
    records = load_records(run_dir)
    seeded = []
    for step, digest in shared.items():
        rec = records.get(step)
        if rec is not None and rec.status == "done" and rec.digest == digest:
            continue
        src = shared_root / step / digest
        if not (src / _RECORD).exists():
            break  # later shared steps read from this one
        record = StepRecord.from_dict(json.loads((src / _RECORD).read_text()))
        for rel in record.artifacts.values():
            dst = run_dir / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(src / "files" / rel, dst)
        record.reused = False
        records[step] = record
        seeded.append(step)
    if seeded:
        atomic_write_json(
            run_dir / STEPS_FILE,
            {
                "flow": None,
                "source": None,
                "updated": None,
                "steps": [r.__dict__ for r in records.values()],
            },
        )
        log.info("reusing %s made by another point of the sweep", ", ".join(seeded))
    return seeded


def publish_shared(run_dir: Path, shared_root: Path, shared: dict[str, str]) -> None:
    """Put this point's shared step outputs into the store (first writer wins, atomically)."""
    records = load_records(run_dir)
    for step, digest in shared.items():
        rec = records.get(step)
        dst = shared_root / step / digest
        if rec is None or rec.status != "done" or rec.digest != digest or dst.exists():
            continue
        tmp = shared_root / step / f".{digest}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        for rel in rec.artifacts.values():
            target = tmp / "files" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(run_dir / rel, target)
        atomic_write_json(tmp / _RECORD, rec.__dict__)
        try:
            tmp.rename(dst)
        except OSError:  # another point published it first
            shutil.rmtree(tmp, ignore_errors=True)


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)  # artifacts are never rewritten in place (atomic replace)
    except OSError:
        shutil.copy2(src, dst)


def classify(err: BaseException) -> FailureKind:
    """The failure kind of an exception a step raised."""
    if isinstance(err, StepTimeoutError):
        return FailureKind.TIMEOUT
    if isinstance(err, InfeasibleError):
        return FailureKind.INFEASIBLE
    if isinstance(err, ToolFailedError | ToolNotFoundError):
        return FailureKind.TOOL
    if isinstance(err, ConfigError):
        return FailureKind.CONFIG
    return FailureKind.ERROR


def layer_resources(run_dir: Path) -> list[dict[str, Any]]:
    """Per-layer rows: FINN's folding and estimate, and Yosys' counts where synthesized."""
    comp = run_dir / "compile"
    rows: dict[str, dict[str, Any]] = {}
    est = _read_json(comp / "estimates.json")
    for layer in (est or {}).get("layers", []):
        res = layer.get("resources", {})
        rows[layer["name"]] = {
            "name": layer["name"],
            "op_type": layer.get("op_type"),
            "pe": layer.get("pe"),
            "simd": layer.get("simd"),
            "cycles": layer.get("cycles"),
            "finn": {k: res.get(k) for k in ("lut", "bram18", "dsp")},
            "yosys": None,
        }
    synth = _read_json(comp / "synth" / "report.json")
    for layer in (synth or {}).get("layers", []):
        name = layer.get("name")
        res = layer.get("resources", {})
        row = rows.setdefault(name, {"name": name, "finn": None})
        row["yosys"] = {k: res.get(k) for k in ("lut", "ff", "bram18", "dsp")}
    return list(rows.values())


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _bits(cfg: FlowConfig) -> str | None:
    """The point's bit config in one line (``model:``), for points that do not train."""
    try:
        return cfg.model.build_bits(cfg.model.build_arch()).describe()
    except CodesignError:
        return None


def run_point(task: dict[str, Any]) -> dict[str, Any]:
    """Run one point's flow; return (and write) its outcome. Never raises for a step error.

    Args:
        task: ``{"config": resolved flow config data, "timeouts": {step: s},
            "shared_root": path, "shared": {step: digest}}``.
    """
    from codesign.flow.report import write_flow_report  # noqa: PLC0415
    from codesign.flow.steps import STEPS  # noqa: PLC0415

    t0 = time.perf_counter()
    cfg = FlowConfig.model_validate(task["config"])
    run_dir = cfg.run.resolved_out_dir().resolve()
    # The point's folder is a flow run folder: claim it (marker) before seeding it, so that
    # the runner resumes it like any run folder codesign wrote. The executor has already put
    # the point's task and log there, hence force (they are kept as they are).
    claim_out_dir(run_dir, RunKind.FLOW, force=True).prepare()
    shared_root = Path(task["shared_root"])
    shared = dict(task.get("shared") or {})
    outcome: dict[str, Any] = {"status": "done", "failure": None}
    try:
        seed_shared(run_dir, shared_root, shared)
        registry = timed_registry(dict(STEPS), task.get("timeouts") or {})
        result = run_flow(cfg, registry, finish=lambda r: write_flow_report(cfg, r))
        publish_shared(run_dir, shared_root, shared)
        outcome["steps"] = {
            r.name: {"status": r.status, "seconds": r.seconds, "reused": r.reused}
            for r in result.records
        }
    except Exception as err:  # a failed point is a result, not a crash of the sweep
        records = load_records(run_dir)
        failed = next((r.name for r in records.values() if r.status == "failed"), None)
        outcome["status"] = "failed"
        outcome["failure"] = {
            "kind": classify(err).value,
            "step": failed,
            "message": f"{type(err).__name__}: {err}"
            if not isinstance(err, CodesignError)
            else str(err),
        }
        outcome["steps"] = {
            r.name: {"status": r.status, "seconds": r.seconds, "reused": r.reused}
            for r in records.values()
        }
        log.error(
            "point failed in step %s: %s", failed, err, exc_info=not isinstance(err, CodesignError)
        )
    outcome["report"] = _read_json(run_dir / "report.json")
    outcome["bits"] = _bits(cfg)
    outcome["layers"] = layer_resources(run_dir)
    outcome["seconds"] = round(time.perf_counter() - t0, 3)
    atomic_write_json(run_dir / OUTCOME_FILE, outcome)
    return outcome


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the task in the JSON file ``argv[0]``; exit 0 done, 3 failed."""
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("matplotlib", "PIL", "brevitas", "onnx", "onnxscript", "onnx_ir", "torch", "mip"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from codesign.settings import Settings, use_settings  # noqa: PLC0415

    use_settings(Settings.from_env())
    task = json.loads(Path(args[0]).read_text())
    run_dir = Path(task["config"]["run"]["out_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / POINT_LOCK).open("a+") as lock:
        # A point process left over from a killed sweep may still hold the folder: wait for
        # it, then resume from what it recorded, rather than fail or write alongside it.
        fcntl.flock(lock, fcntl.LOCK_EX)
        outcome = run_point(task)
    return 0 if outcome["status"] == "done" else 3


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Threads of a step cut short by its timeout (Yosys jobs) must not keep the process
    # alive, nor their tool processes outlive it.
    import psutil

    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    os._exit(code)
