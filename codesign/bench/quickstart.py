"""Benchmark: the hardware-only flow (the first quickstart, ``flows/hardware.yaml``), cold.

Runs ``codesign run flows/hardware.yaml`` as a child process into a fresh run folder with
an empty tool cache, so every Verilator build and Yosys run is real. The runner measures the
wall time and the peak RSS of the whole process tree (Python, Verilator's g++, Yosys), the
figure the quickstart's 4 GB memory goal is about. The figures are the time per step and
the flow's hardware report (FPS, cycles, LUTs measured vs FINN's estimates).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

FLOW = Path(__file__).resolve().parents[2] / "flows" / "hardware.yaml"
TIMEOUT_S = 1800


def run(out_dir: Path) -> dict:
    """Run the quickstart flow cold; return its step times and hardware figures."""
    run_dir, cache = out_dir / "run", out_dir / "cache"
    for path in (run_dir, cache):
        shutil.rmtree(path, ignore_errors=True)
    codesign = Path(sys.executable).parent / "codesign"
    env = {**os.environ, "CODESIGN_CACHE": str(cache)}
    with (out_dir / "flow.log").open("w") as log:
        subprocess.run(
            [str(codesign), "run", str(FLOW), "--out", str(run_dir)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=TIMEOUT_S,
        )
    report = json.loads((run_dir / "report.json").read_text())
    return {
        "flow": FLOW.name,
        "clean_accuracy": report["clean_accuracy"],
        "step_seconds": {name: s["seconds"] for name, s in report["steps"].items()},
        "hardware": report.get("hardware"),
    }
