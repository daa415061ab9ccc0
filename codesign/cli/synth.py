"""``codesign synth RUN``: Yosys synthesis of a compile run folder, per layer and whole."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from codesign.cli.main import PositiveFloat


@click.command("synth")
@click.argument(
    "run_dir", metavar="RUN", type=click.Path(path_type=Path, file_okay=False, exists=True)
)
@click.option(
    "--per-layer/--no-per-layer",
    default=True,
    show_default=True,
    help="Synthesize each node on its own.",
)
@click.option(
    "--whole/--no-whole",
    default=True,
    show_default=True,
    help="Synthesize the whole chain as one design.",
)
@click.option(
    "--node",
    "nodes",
    multiple=True,
    help="Only this node (repeatable; consecutive nodes for --whole).",
)
@click.option("--board", default=None, help="Board overriding RUN/config.yaml's (family).")
@click.option(
    "--timeout",
    "timeout_s",
    type=PositiveFloat(),
    default=1800,
    show_default=True,
    help="Seconds per Yosys run.",
)
@click.option(
    "--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Yosys runs at once."
)
def synth(
    run_dir: Path,
    per_layer: bool,
    whole: bool,
    nodes: tuple[str, ...],
    board: str | None,
    timeout_s: float,
    jobs: int,
) -> None:
    """Synthesize RUN (a `codesign compile` or `codesign run` folder) with Yosys, vs FINN."""
    from codesign.runs import RunKind, find_run_dir  # noqa: PLC0415
    from codesign.synth.run import synthesize  # noqa: PLC0415 (reading the model loads FINN)

    run_dir = find_run_dir(run_dir, RunKind.COMPILE)
    t0 = time.perf_counter()
    out = Console()
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=out, transient=False) as progress:
        overall = progress.add_task("yosys", total=None)
        tasks: dict[str, int] = {}

        def on_event(name: str, what: str, result: object) -> None:
            if what == "start":
                tasks[name] = progress.add_task(f"  {name}", total=1)
                return
            task = tasks[name] if name in tasks else progress.add_task(f"  {name}", total=1)
            label = "cached" if what == "cached" else f"{result.seconds:.1f} s"
            progress.update(task, completed=1, description=f"  {name} ({label})")
            progress.advance(overall)

        report = synthesize(
            run_dir,
            board,
            per_layer=per_layer,
            whole=whole,
            nodes=list(nodes) or None,
            timeout_s=timeout_s,
            jobs=jobs,
            on_event=on_event,
        )
        progress.update(
            overall,
            total=len(report.layers) + (report.whole is not None),
            completed=len(report.layers) + (report.whole is not None),
        )
    out.print(report.table())
    hits = sum(r.cached for r in (*report.layers, *(x for x in [report.whole] if x)))
    out.print(
        f"results: {run_dir / 'synth'}  logs: {run_dir / 'logs'}  "
        f"({hits} cached, {time.perf_counter() - t0:.1f} s)"
    )
