"""``python -m codesign.bench``: run the benchmarks, one JSON file each under ``--out``."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from codesign.bench.runner import BENCHMARKS, run_benchmark

log = logging.getLogger(__name__)


@click.command()
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("runs/bench"))
@click.option("--only", multiple=True, type=click.Choice(BENCHMARKS), help="Run only these.")
def main(out_dir: Path, only: tuple[str, ...]) -> None:
    """Run the benchmarks and write runs/bench/<name>.json with wall time and peak RSS."""
    console = Console()
    logging.basicConfig(
        level=logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )
    table = Table("benchmark", "status", "wall s", "peak RSS MB", "results", title="codesign bench")
    failed = False
    for name in only or BENCHMARKS:
        log.info("benchmark %s ...", name)
        rec = run_benchmark(name, out_dir)
        failed |= rec["status"] != "ok"
        summary = json.dumps(rec["results"] if rec["status"] == "ok" else rec["error"])
        table.add_row(
            name, rec["status"], f"{rec['wall_s']:.1f}", f"{rec['peak_rss_mb']:.0f}", summary[:120]
        )
    console.print(table)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
