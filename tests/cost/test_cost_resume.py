"""A calibration killed with SIGKILL and restarted loses and repeats no finished point.

The calibration loop (codesign.flow.calibrate.run_points with the results database) runs in
a real process that is SIGKILLed mid-run; the measurement is a stand-in (sleep + a record
derived from the point), because what is tested is the storage of finished points, and a
real compile + Yosys per point would take minutes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from codesign.cost.db import ResultsDB
from codesign.cost.doe import calibration_points

ROOT = Path(__file__).resolve().parents[2]
N = 24

_RUNNER = """
import sys, time
from pathlib import Path
from codesign.cost.db import ResultsDB
from codesign.cost.doe import calibration_points
from codesign.flow.calibrate import run_points

root = Path(sys.argv[1])
log = open(root / "measured.log", "a", buffering=1)

def measure(point, root, settings=None, jobs=1):
    log.write(f"start {point.key}\\n")
    time.sleep(0.05)
    nodes = [{"name": f"n{i}", "spec": {"kind": "fifo", "pe": 1, "simd": 1,
              "act_in": [4, False]}, "measured": {"lut": float(i)}, "cycles": 0,
              "design_digest": f"{point.key}{i}"} for i in range(3)]
    log.write(f"done {point.key}\\n")
    return {"key": point.key, "point": point.to_dict(), "nodes": nodes, "whole": None,
            "tool": "yosys", "tool_version": "stand-in"}

db = ResultsDB(f"sqlite:///{root / 'results.sqlite'}")
run_points(calibration_points(int(sys.argv[2])), root, store=db.record_point,
           stored=db.has_point, measure=measure)
"""


def _start(root: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", _RUNNER, str(root), str(N)], env=env)


def test_sigkill_and_restart_lose_and_repeat_nothing(tmp_path: Path) -> None:
    proc = _start(tmp_path)
    log = tmp_path / "measured.log"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill once a few points are done
        if log.is_file() and log.read_text().count("done") >= 6:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    written = {p.stem for p in (tmp_path / "points").glob("*.json")}
    first_run = log.read_text().splitlines()
    assert 0 < len(written) < N

    proc = _start(tmp_path)
    assert proc.wait(timeout=300) == 0
    second_run = log.read_text().splitlines()[len(first_run) :]
    remeasured = {line.split()[1] for line in second_run if line.startswith("start")}
    assert not remeasured & written  # a finished point is never measured again
    keys = [p.key for p in calibration_points(N)]
    db = ResultsDB(f"sqlite:///{tmp_path / 'results.sqlite'}")
    stored = [r["key"] for r in db.points()]
    assert sorted(stored) == sorted(keys)  # none lost, none twice
    assert db.count("design") == N and db.count("layer") == 3 * N
