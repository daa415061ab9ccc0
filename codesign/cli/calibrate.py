"""``codesign calibrate --board B``: measure the cost model's design of experiments and fit it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table


def layer_table(rows: list[dict[str, Any]], title: str) -> Table:
    """The per-kind error table (MAPE and worst case per resource)."""
    table = Table(title=title)
    cols = (
        "kind",
        "n",
        "lut_mape",
        "lut_worst",
        "ff_mape",
        "ff_worst",
        "dsp_exact",
        "bram18_exact",
        "cycles_exact",
    )
    heads = (
        "kind",
        "n",
        "LUT MAPE %",
        "LUT worst %",
        "FF MAPE %",
        "FF worst %",
        "DSP exact %",
        "BRAM18 exact %",
        "cycles exact %",
    )
    for h in heads:
        table.add_column(h, justify="left" if h == "kind" else "right")
    for r in rows:
        table.add_row(*["-" if r.get(c) is None else str(r[c]) for c in cols])
    return table


def design_table(rows: list[dict[str, Any]]) -> Table:
    """Whole designs: Yosys vs predicted (compiled nodes, and from the architecture alone)."""
    table = Table(title="whole designs: Yosys vs cost model")
    cols = (
        "role",
        "bits",
        "lut",
        "lut_pred",
        "lut_err_pct",
        "lut_from_arch",
        "lut_from_arch_err_pct",
        "bram18",
        "bram18_pred",
        "dsp",
        "dsp_pred",
    )
    for c in cols:
        table.add_column(c, justify="left" if c in ("role", "bits") else "right")
    for r in rows:
        table.add_row(
            *[
                "-" if r[c] is None else f"{r[c]:g}" if isinstance(r[c], float) else str(r[c])
                for c in cols
            ]
        )
    return table


def _impls(text: str) -> tuple[str, ...]:
    """Parse ``--impls`` (one clear line on a bad name)."""
    from codesign.cost.protocol import Impl

    names = tuple(x.strip().lower() for x in text.split(",") if x.strip())
    valid = {i.value for i in Impl}
    bad = [n for n in names if n not in valid]
    if bad or not names:
        raise click.BadParameter(
            f"unknown implementation {', '.join(bad) or '(none)'}; choose from "
            f"{', '.join(sorted(valid))}",
            param_hint="--impls",
        )
    return names


@click.command("calibrate")
@click.option("--board", required=True, help="Board to calibrate for (its family names it).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Calibration folder (default runs/calibrate-<board>).",
)
@click.option(
    "--points",
    "n_points",
    type=click.IntRange(min=1),
    default=40,
    show_default=True,
    help="Random networks in the design of experiments.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="DoE seed.")
@click.option("--db", "db_url", default=None, help="Results DB URL (default OUT/results.sqlite).")
@click.option(
    "--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Yosys runs at once."
)
@click.option(
    "--impls",
    default="dsp,lut",
    show_default=True,
    help="MVU implementations the DoE cycles through (comma-separated: dsp, lut).",
)
@click.option("--fit-only", is_flag=True, help="Fit what is stored; measure nothing.")
@click.option("--no-designs", is_flag=True, help="Skip the quickstart whole-design checks.")
@click.option(
    "--import-run",
    "import_runs",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Also use this run folder's per-layer Yosys results (repeatable).",
)
@click.option(
    "--install",
    is_flag=True,
    help="Also write the calibration into the package (codesign/cost/calibrations).",
)
def calibrate_cmd(
    board: str,
    out_dir: Path | None,
    n_points: int,
    seed: int,
    db_url: str | None,
    jobs: int,
    impls: str,
    fit_only: bool,
    no_designs: bool,
    import_runs: tuple[Path, ...],
    install: bool,
) -> None:
    """Compile, synthesize (Yosys, per layer) and fit the cost model; resumable."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from codesign.flow.calibrate import calibrate

    out_dir = out_dir or Path("runs") / f"calibrate-{board.lower()}"
    console = Console()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("calibration points", total=None)

        def on_point(index: int, total: int, key: str, what: str) -> None:
            progress.update(
                task, total=total, completed=index + 1, description=f"point {key} {what}"
            )

        result = calibrate(
            board,
            out_dir,
            n_points=n_points,
            seed=seed,
            db_url=db_url,
            jobs=jobs,
            measure=not fit_only,
            designs=not no_designs,
            on_point=on_point,
            import_runs=import_runs,
            impls=_impls(impls),
        )
    cal = result["calibration"]
    console.print(layer_table(result["layers"], f"held-out layers: {cal.name}"))
    console.print(layer_table(result["layers_fit"], "fit layers (in-sample)"))
    if result["designs"]:
        console.print(design_table(result["designs"]))
    console.print(f"{result['points']} points; calibration written to {result['path']}")
    if install:
        from importlib import resources

        target = Path(str(resources.files("codesign.cost.calibrations"))) / f"{cal.name}.json"
        cal.save(target)
        console.print(f"installed as {target}")
