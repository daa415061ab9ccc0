"""Benchmark: the quickstart sweep (``flows/sweep-quickstart.yaml``), cold, on 2 jobs.

Runs ``codesign sweep`` as a child process into a fresh sweep folder with an empty tool
cache (every Verilator build and Yosys run is real), two points at once. Reports points
per hour (done points over the sweep's wall time) and each step's share of the summed step
time of all points (a step shared by points, e.g. one checkpoint, counted once), plus the figures
of each point. :func:`figures` computes the same from any finished sweep folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from codesign.flow.runner import load_records
from codesign.sweep.store import PointStatus, PointStore

FLOW = Path(__file__).resolve().parents[2] / "flows" / "sweep-quickstart.yaml"
JOBS = 2
TIMEOUT_S = 7200


def run(out_dir: Path) -> dict:
    """Run the quickstart sweep cold; return points per hour and the step shares."""
    sweep_dir, cache = out_dir / "sweep", out_dir / "cache"
    for path in (sweep_dir, cache):
        shutil.rmtree(path, ignore_errors=True)
    codesign = Path(sys.executable).parent / "codesign"
    env = {**os.environ, "CODESIGN_CACHE": str(cache)}
    t0 = time.perf_counter()
    cpu0 = _children_cpu()
    with (out_dir / "sweep.log").open("w") as log:
        subprocess.run(
            [str(codesign), "sweep", str(FLOW), "--out", str(sweep_dir), "-j", str(JOBS)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=TIMEOUT_S,
        )
    wall = time.perf_counter() - t0
    out = figures(sweep_dir, wall, jobs=JOBS)
    # CPU time of the whole process tree (sweep, point processes, Verilator's g++, Yosys):
    # on a shared machine the wall time says more about the load than about the sweep.
    cpu = _children_cpu() - cpu0
    out["cpu_s"] = round(cpu, 1)
    out["load_average_1min_end"] = round(os.getloadavg()[0], 2)
    if out["done"]:
        per_point = cpu / out["done"]
        out["cpu_s_per_done_point"] = round(per_point, 1)
        # What the same CPU work gives on an otherwise idle machine with JOBS cores busy.
        out["points_per_hour_idle_estimate"] = round(JOBS * 3600 / per_point, 2)
    return out


def _children_cpu() -> float:
    """User + system CPU seconds of this process's finished children (and theirs)."""
    import resource  # noqa: PLC0415

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def figures(sweep_dir: Path, wall_s: float, jobs: int, name: str = FLOW.name) -> dict[str, Any]:
    """Points per hour and per-step time shares of the finished sweep in ``sweep_dir``.

    Args:
        sweep_dir: The sweep folder.
        wall_s: The sweep's wall time.
        jobs: Points it ran at once.
        name: The sweep file's name, for the record.
    """
    records = list(PointStore(sweep_dir))
    done = [r for r in records if r.status is PointStatus.DONE]
    per_step: dict[str, float] = defaultdict(float)
    seen: set[tuple[str, str]] = set()
    for rec in done:
        # The flow runner's records keep the seconds of the run that made each step's
        # outputs; a step shared between points (same digest) is counted once.
        for step_name, step in load_records(Path(rec.run_dir)).items():
            if step.status == "done" and step.seconds and (step_name, step.digest) not in seen:
                seen.add((step_name, step.digest))
                per_step[step_name] += step.seconds
    total = sum(per_step.values())
    return {
        "sweep": name,
        "jobs": jobs,
        "cores": len(os.sched_getaffinity(0)),
        "points": len(records),
        "done": len(done),
        "wall_s": round(wall_s, 1),
        "points_per_hour": round(len(done) / wall_s * 3600, 2) if wall_s > 0 else None,
        "step_seconds": {k: round(v, 1) for k, v in per_step.items()},
        "step_share": {k: round(v / total, 3) for k, v in per_step.items()} if total else {},
        "point_seconds": {", ".join(r.labels.values()) or r.digest[:8]: r.seconds for r in records},
    }
