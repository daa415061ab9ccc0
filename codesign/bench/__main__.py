"""``python -m codesign.bench``: run the benchmarks, one JSON file each under ``--out``.

Each benchmark module (``codesign/bench/<name>.py``) exposes ``run(out_dir) -> dict``. It
runs in its own process so that peak memory is measured cleanly: the runner samples the
resident set of that process *and all its children* (Verilator, Yosys, g++) and records
the peak of their sum along with the wall time.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import sys
import time
from pathlib import Path

import click
import psutil
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from codesign.io import atomic_write_json

BENCHMARKS = ("compile", "sim", "synth")
_SAMPLE_S = 0.05
log = logging.getLogger(__name__)


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
    work = out_dir / name
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


@click.command()
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("runs/bench"))
@click.option("--only", multiple=True, type=click.Choice(BENCHMARKS), help="Run only these.")
def main(out_dir: Path, only: tuple[str, ...]) -> None:
    """Run the benchmarks and write runs/bench/<name>.json with wall time and peak RSS."""
    console = Console()
    logging.basicConfig(level=logging.INFO, format="%(message)s",
                        handlers=[RichHandler(console=console, show_path=False)])
    table = Table("benchmark", "status", "wall s", "peak RSS MB", "results", title="codesign bench")
    failed = False
    for name in only or BENCHMARKS:
        log.info("benchmark %s ...", name)
        rec = run_benchmark(name, out_dir)
        failed |= rec["status"] != "ok"
        summary = json.dumps(rec["results"] if rec["status"] == "ok" else rec["error"])
        table.add_row(name, rec["status"], f"{rec['wall_s']:.1f}", f"{rec['peak_rss_mb']:.0f}",
                      summary[:120])
    console.print(table)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
