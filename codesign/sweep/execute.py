"""Run one point in a fresh process and turn what it left into a :class:`PointRecord`.

:func:`execute_point` is what a pool thread or a Dask worker calls. It starts
``python -m codesign.sweep.point`` with the point's task, its stdout and stderr going to
``RUN/point.log``, waits at most the sum of the point's step limits plus a grace period
(then kills the process tree), and reads ``RUN/point-outcome.json``. A process that died
without an outcome (killed, out of memory) is a ``crash`` failure with the log's tail.
The function never raises for a failing point, and it writes the record to the results
database when the task names one, so Dask workers report to one database.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from codesign.io import atomic_write_json
from codesign.sweep.point import OUTCOME_FILE
from codesign.sweep.store import FailureKind, PointRecord, PointStatus

log = logging.getLogger(__name__)

TASK_FILE = "point-task.json"
LOG_FILE = "point.log"
GRACE_S = 120.0
_TAIL_LINES = 40


def make_task(
    point_config: dict[str, Any],
    *,
    digest: str,
    labels: dict[str, str],
    timeouts: dict[str, float],
    shared_root: Path,
    shared: dict[str, str],
    attempts: int = 1,
    db: str | None = None,
    sweep: str = "",
) -> dict[str, Any]:
    """The JSON-able task of one point (all a worker needs; no sweep file)."""
    return {
        "digest": digest,
        "sweep": sweep,
        "labels": labels,
        "config": point_config,
        "timeouts": timeouts,
        "shared_root": str(shared_root),
        "shared": shared,
        "attempts": attempts,
        "db": db,
    }


def execute_point(task: dict[str, Any], *_after: object) -> dict[str, Any]:
    """Run the point of ``task`` in its own process; return its record as plain data.

    Args:
        task: From :func:`make_task`.
        _after: Ignored; Dask passes the results of points this one waits for (the point
            that trains a shared checkpoint).
    """
    run_dir = Path(task["config"]["run"]["out_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    task_file = atomic_write_json(run_dir / TASK_FILE, task)
    (run_dir / OUTCOME_FILE).unlink(missing_ok=True)
    log_path = run_dir / LOG_FILE
    steps = task["config"]["run"]["steps"]
    limit = sum(task["timeouts"].get(s, 0.0) for s in steps) + GRACE_S
    started = _now()
    t0 = time.perf_counter()
    rc: int | None
    with log_path.open("ab") as fh:
        fh.write(f"=== point {task['digest']} attempt {task['attempts']} at {started}\n".encode())
        fh.flush()
        proc = subprocess.Popen(  # noqa: S603 (our own module, no shell)
            [sys.executable, "-m", "codesign.sweep.point", str(task_file)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")},
        )
        try:
            rc = proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            kill_tree(proc.pid)
            proc.wait()
            rc = None
    seconds = round(time.perf_counter() - t0, 3)
    outcome = _read(run_dir / OUTCOME_FILE)
    record = PointRecord(
        digest=task["digest"],
        status=PointStatus.FAILED,
        labels=task["labels"],
        run_dir=str(run_dir),
        host=socket.gethostname(),
        started=started,
        finished=_now(),
        seconds=seconds,
        attempts=task["attempts"],
        log=str(log_path),
    )
    if outcome is None:
        kind, why = (
            (FailureKind.TIMEOUT, f"the point ran past its {limit:g} s limit and was killed")
            if rc is None
            else (FailureKind.CRASH, f"the point's process exited with code {rc} and no result")
        )
        record.failure = {"kind": kind.value, "step": None, "message": why}
    else:
        record.status = PointStatus(outcome["status"])
        record.failure = outcome.get("failure")
        record.report = outcome.get("report")
        record.layers = outcome.get("layers") or []
        record.steps = outcome.get("steps") or {}
        record.bits = outcome.get("bits")
    if record.status is PointStatus.FAILED:
        record.log_tail = _tail(log_path)
    if task.get("db"):
        from codesign.sweep.db import save_point  # noqa: PLC0415 (SQLAlchemy on use)

        try:
            save_point(task["db"], task.get("sweep", ""), record, task["config"])
        except Exception as err:  # noqa: BLE001 (the point record is kept; the DB is retried
            # on the next run of the sweep, which re-writes points missing from it)
            log.error("results db %s: point %s not written: %s", task["db"], task["digest"], err)
    return record.to_dict()


def kill_tree(pid: int) -> None:
    """SIGKILL process ``pid`` and all its descendants."""
    try:
        root = psutil.Process(pid)
        procs = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return
    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=10)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-_TAIL_LINES:])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
