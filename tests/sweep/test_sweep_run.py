"""Real sweeps of tiny points, each point a real process running real flow steps.

Covers a real SIGKILL of the whole process tree and the resume, failed points (a step
timeout, a runtime error) with ``--retry-failed``, and a Dask ``LocalCluster`` run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codesign.sweep.db import load_points
from codesign.sweep.runner import run_sweep
from codesign.sweep.spec import load_sweep_spec
from codesign.sweep.store import PointStatus, PointStore

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]


def _headers(log: Path) -> int:
    return log.read_text().count("=== point ")


def test_sigkill_mid_sweep_then_resume_loses_and_repeats_nothing(tiny_sweep) -> None:
    path = tiny_sweep("  overrides:\n    train.lr: [0.001, 0.002, 0.003, 0.004]\n")
    out = path.parent / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "codesign.cli.main", "sweep", str(path), "-j", "2", "--no-report"]
    proc = subprocess.Popen(  # noqa: S603
        cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list((out / "points").glob("*.json"))) >= 1:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the driver, its pool and every point process
    proc.wait()
    before = {r.digest: r for r in PointStore(out)}
    assert 1 <= len(before) < 4
    started = {p.parent.name for p in (out / "runs").glob("*/point.log")}
    assert started - set(before), "no point was mid-way when the sweep was killed"

    summary = run_sweep(load_sweep_spec(path), jobs=2)
    assert (summary.points, summary.skipped, summary.ran, summary.done) == (
        4,
        len(before),
        4 - len(before),
        4,
    )
    records = {r.digest: r for r in PointStore(out)}
    assert len(records) == 4
    for digest, rec in records.items():
        assert rec.status is PointStatus.DONE
        run = Path(rec.run_dir)
        # Each record agrees with its run folder's report: nothing half-written.
        assert (
            json.loads((run / "report.json").read_text())["clean_accuracy"]
            == rec.report["clean_accuracy"]
        )
        if digest in before:  # done before the kill: kept, never run again
            assert rec.finished == before[digest].finished
            assert _headers(run / "point.log") == 1
    # The results database holds each point once, in its final state.
    rows = load_points(f"sqlite:///{out / 'results.sqlite'}", "tiny")
    assert sorted(r["digest"] for r in rows) == sorted(records)
    assert {r["status"] for r in rows} == {"done"}
    # A third invocation finds nothing to do.
    again = run_sweep(load_sweep_spec(path), jobs=2)
    assert (again.ran, again.skipped) == (0, 4)


def test_failed_points_are_recorded_and_retried_alone(tiny_sweep) -> None:
    # Three candidate flows (the ``flows`` axis): one runs through; one evaluates 10k images
    # under 2 corruptions x 5 severities against a 10 s limit (it needs several times that);
    # one asks for more test images than exist, which only the evaluate step finds out.
    path = tiny_sweep(
        "  flows: [ok.yaml, slow.yaml, bad.yaml]\n", execution="  timeouts: {evaluate: 10}\n"
    )
    base = (path.parent / "base.yaml").read_text()
    (path.parent / "ok.yaml").write_text(base)
    slow = base.replace("n_test: 64", "n_test: 10000").replace("[3]", "[1, 2, 3, 4, 5]")
    (path.parent / "slow.yaml").write_text(slow)
    (path.parent / "bad.yaml").write_text(base.replace("n_test: 64", "n_test: 20000"))
    summary = run_sweep(load_sweep_spec(path), jobs=2)
    assert (summary.points, summary.done, summary.failed) == (3, 1, 2)
    recs = {r.labels["flow"]: r for r in PointStore(path.parent / "out")}
    ok = recs["ok"]
    assert ok.status is PointStatus.DONE and ok.failure is None
    timeout = recs["slow"]
    assert timeout.failure["kind"] == "timeout" and timeout.failure["step"] == "evaluate"
    assert "ran past its 10 s limit" in timeout.failure["message"]
    assert timeout.steps["train"]["status"] == "done"
    bad = recs["bad"]
    assert bad.failure["kind"] == "config" and bad.failure["step"] == "evaluate"
    assert "data.n_test is 20000" in bad.failure["message"]
    assert "data.n_test is 20000" in bad.log_tail and Path(bad.log).exists()

    again = run_sweep(load_sweep_spec(path), jobs=2, retry_failed=True)
    assert (again.ran, again.skipped, again.failed) == (2, 1, 2)
    after = {r.labels["flow"]: r for r in PointStore(path.parent / "out")}
    assert after["ok"].finished == ok.finished  # the done point is not run again
    assert after["slow"].attempts == 2 and after["bad"].attempts == 2
    # The retried point resumed its flow: training was done before and is not repeated.
    assert after["slow"].steps["train"]["reused"]
    url = f"sqlite:///{path.parent / 'out' / 'results.sqlite'}"
    rows = {r["digest"]: r for r in load_points(url)}
    assert len(rows) == 3
    assert rows[timeout.digest]["failure_kind"] == "timeout"
    assert rows[timeout.digest]["attempts"] == 2
    assert rows[ok.digest]["clean_accuracy"] == ok.report["clean_accuracy"]
