"""``codesign sweep SWEEP.yaml`` and ``codesign report SWEEP_DIR``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from codesign.cli.main import err_console


@click.command()
@click.argument("sweep_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Points at once in the local pool (default: cores and memory decide).",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="tcp://HOST:PORT",
    help="Run the points on this Dask distributed scheduler instead.",
)
@click.option("--retry-failed", is_flag=True, help="Re-run the points recorded as failed.")
@click.option(
    "--db",
    default=None,
    metavar="URL",
    help="Results database (SQLAlchemy URL; default sweep.db or SWEEP_DIR/results.sqlite).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Sweep folder (default: sweep.out_dir, else sweeps/<sweep.name>).",
)
@click.option("--no-report", is_flag=True, help="Skip the Pareto files and the HTML report.")
def sweep(
    sweep_file: Path,
    jobs: int | None,
    scheduler: str | None,
    retry_failed: bool,
    db: str | None,
    out_dir: Path | None,
    no_report: bool,
) -> None:
    """Run (or resume) the sweep in SWEEP_FILE; points already done are not run again."""
    from codesign.sweep.runner import run_sweep  # noqa: PLC0415 (keeps --help fast)
    from codesign.sweep.spec import load_sweep_spec  # noqa: PLC0415

    spec = load_sweep_spec(sweep_file)
    if out_dir is not None:
        header = spec.sweep.model_copy(update={"out_dir": out_dir.resolve()})
        spec = spec.model_copy(update={"sweep": header})
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console) as bar:
        task = bar.add_task("points", total=None)

        def progress(record, finished: int, total: int) -> None:  # noqa: ANN001
            bar.update(task, completed=finished, total=total)
            what = record.status.value
            if record.failure:
                what += f" ({record.failure['kind']}: {record.failure['message'][:120]})"
            labels = ", ".join(f"{k}={v}" for k, v in record.labels.items())
            bar.console.print(f"point {record.digest[:8]} {labels}: {what}", highlight=False)

        summary = run_sweep(
            spec,
            jobs=jobs,
            scheduler=scheduler,
            retry_failed=retry_failed,
            db=db,
            progress=progress,
        )
    out = _console()
    out.print(
        f"sweep {spec.sweep.name}: {summary.points} points, {summary.ran} run now, "
        f"{summary.skipped} recorded before; {summary.done} done, {summary.failed} failed "
        f"({summary.seconds:.1f} s)"
    )
    if summary.failures:
        table = Table(title="failed points")
        for col in ("point", "axes", "kind", "step", "reason"):
            table.add_column(col)
        for f in summary.failures:
            labels = ", ".join(f"{k}={v}" for k, v in f["labels"].items())
            table.add_row(
                f["digest"][:8], labels, f["kind"], f.get("step") or "", f["message"][:200]
            )
        out.print(table)
    if not no_report:
        _report(summary.sweep_dir, out)
    out.print(f"sweep folder: {summary.sweep_dir}")


@click.command()
@click.argument("sweep_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
def report(sweep_dir: Path) -> None:
    """Write the Pareto fronts (CSV/JSON/PNG) and the HTML report of SWEEP_DIR."""
    _report(sweep_dir.resolve(), _console())


def _console() -> Console:
    # Wide tables stay readable in a log file (rich assumes 80 columns off a terminal).
    return Console() if sys.stdout.isatty() else Console(width=200)


def _report(sweep_dir: Path, out: Console) -> None:
    from codesign.sweep.report import write_report  # noqa: PLC0415 (matplotlib, jinja2)

    written = write_report(sweep_dir)
    for table in written.tables:
        rich = Table(title=table.title)
        for col in table.columns:
            rich.add_column(col)
        for row in table.rows:
            rich.add_row(*row)
        out.print(rich)
    out.print(f"report: {written.html}")
