"""Run one benchmark in a child process and record its wall time and peak memory.

Each benchmark module (``codesign/bench/<name>.py``) exposes ``run(out_dir) -> dict``. It
runs in its own (spawned) process so that peak memory is measured cleanly: the runner samples
the resident set of that process *and all its children* (Verilator, Yosys, g++) and records
the peak of their sum along with the wall time. The worker lives in this importable module,
not in ``__main__``, because a spawned child re-imports its target by module name.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
import time
from pathlib import Path

import psutil

from codesign.io import atomic_write_json

BENCHMARKS = (
    "compile",
    "sim",
    "synth",
    "quickstart",
    "cost",
    "dqmq",
    "apq",
    "apq_transfer",
    "sweep",
    "lutmvu",
    "cnv",
)
_SAMPLE_S = 0.05


def _worker(name: str, out_dir: str, queue: mp.Queue) -> None:
    import importlib

    try:
        module = importlib.import_module(f"codesign.bench.{name}")
        queue.put(("ok", module.run(Path(out_dir))))
    except Exception as err:  # reported to the parent, which records the failure
        queue.put(("error", f"{type(err).__name__}: {err}"))


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def run_benchmark(name: str, out_dir: Path) -> dict:
    """Run one benchmark in a child process; return its figures plus wall time and peak RSS."""
    work = (out_dir / name).resolve()
    work.mkdir(parents=True, exist_ok=True)
    queue: mp.Queue = mp.get_context("spawn").Queue()
    child = mp.get_context("spawn").Process(target=_worker, args=(name, str(work), queue))
    start = time.perf_counter()
    child.start()
    proc = psutil.Process(child.pid)
    peak = 0
    result: tuple[str, object] | None = None
    while child.is_alive() and result is None:
        try:
            peak = max(peak, _tree_rss(proc))
        except psutil.NoSuchProcess:
            break
        try:
            result = queue.get(timeout=_SAMPLE_S)
        except Exception:  # queue.Empty: keep sampling
            continue
    if result is None:
        result = queue.get(timeout=5) if not queue.empty() else ("error", "no result")
    child.join()
    wall = time.perf_counter() - start
    status, payload = result
    record = {
        "benchmark": name,
        "status": status,
        "wall_s": round(wall, 3),
        "peak_rss_mb": round(peak / 2**20, 1),
        "python": sys.version.split()[0],
        "results": payload if status == "ok" else None,
        "error": payload if status != "ok" else None,
    }
    atomic_write_json(out_dir / f"{name}.json", record)
    return record
