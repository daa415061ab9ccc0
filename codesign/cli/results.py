"""``codesign results``: list, filter, import and export the results database."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

_DESIGN_COLS = (
    "id",
    "stage",
    "name",
    "board",
    "tool",
    "lut",
    "ff",
    "bram18",
    "dsp",
    "cycles",
    "run_dir",
)
_LAYER_COLS = (
    "id",
    "stage",
    "name",
    "kind",
    "pe",
    "simd",
    "weight_bits",
    "act_bits",
    "lut",
    "ff",
    "bram18",
    "dsp",
    "cycles",
)


def _db_option(f: click.decorators.FC) -> click.decorators.FC:
    f = click.option(
        "--db",
        "db_url",
        default=None,
        help="SQLAlchemy URL (default: sqlite:///RUNS/results.sqlite).",
    )(f)
    return click.option(
        "--runs",
        "runs_dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Runs folder holding results.sqlite (default ./runs).",
    )(f)


def _open(db_url: str | None, runs_dir: Path | None):  # noqa: ANN202
    from codesign.cost.db import ResultsDB, default_url

    return ResultsDB(db_url or default_url(runs_dir))


def _filters(f: click.decorators.FC) -> click.decorators.FC:
    for name, help_text in (
        ("--kind", "Layer kind (mvau, thresholding, swg, fmpadding, dwc, fifo)."),
        ("--tool", "Tool (yosys, vivado, verilator, finn-plus)."),
        ("--family", "Device family (xc7, xcup...)."),
        ("--board", "Board name."),
    ):
        f = click.option(name, default=None, help=help_text)(f)
    f = click.option(
        "--stage",
        type=click.Choice(["compile", "simulate", "synth", "build"]),
        default=None,
        help="Result stage.",
    )(f)
    f = click.option(
        "--level",
        type=click.Choice(["design", "layer"]),
        default="design",
        show_default=True,
        help="Design rows or per-layer rows.",
    )(f)
    return click.option("--limit", type=int, default=None, help="At most this many rows.")(f)


@click.group("results")
def results() -> None:
    """The results database: every compile, simulate, synth and build result."""


@results.command("import")
@click.argument(
    "run_dirs",
    nargs=-1,
    required=True,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
)
@_db_option
def import_cmd(run_dirs: tuple[Path, ...], db_url: str | None, runs_dir: Path | None) -> None:
    """Import compile (or flow) run folders: estimates, simulations, Yosys and Vivado results."""
    db = _open(db_url, runs_dir)
    for run in run_dirs:
        ids = db.record_run_folder(run)
        click.echo(f"{run}: {len(ids)} new design row(s)")


@results.command("list")
@_filters
@_db_option
def list_cmd(
    level: str, limit: int | None, db_url: str | None, runs_dir: Path | None, **filters: str | None
) -> None:
    """List stored rows, filtered."""
    db = _open(db_url, runs_dir)
    if level == "design":
        filters.pop("kind", None)
    rows = db.query(level=level, limit=limit, **filters)
    cols = _DESIGN_COLS if level == "design" else _LAYER_COLS
    table = Table(title=f"{len(rows)} {level} row(s) in {db.url}")
    for c in cols:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(
            *[
                "" if r.get(c) is None else f"{r[c]:g}" if isinstance(r[c], float) else str(r[c])
                for c in cols
            ]
        )
    Console().print(table)


@results.command("export")
@_filters
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="File to write (default stdout).",
)
@_db_option
def export_cmd(
    level: str,
    limit: int | None,
    fmt: str,
    output: Path | None,
    db_url: str | None,
    runs_dir: Path | None,
    **filters: str | None,
) -> None:
    """Export stored rows as CSV or JSON."""
    from codesign.cost.db import export_rows
    from codesign.io import atomic_write_text

    db = _open(db_url, runs_dir)
    if level == "design":
        filters.pop("kind", None)
    text = export_rows(db.query(level=level, limit=limit, **filters), fmt)
    if output is None:
        click.echo(text, nl=False)
    else:
        atomic_write_text(output, text)
        click.echo(f"wrote {output}")
