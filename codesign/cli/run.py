"""``codesign run FLOW.yaml``: run (or resume) a flow, show progress and the accuracy report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from codesign.cli.main import err_console
from codesign.flow.config import load_flow_config
from codesign.flow.runner import FlowResult, run_flow


class _Bars:
    """Turns ``progress(task, completed, total)`` calls into rich progress bars."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, task: str, completed: int, total: int) -> None:
        if task not in self.tasks:
            self.tasks[task] = self.progress.add_task(task, total=total)
        self.progress.update(self.tasks[task], completed=completed, total=total)


@click.command()
@click.argument("flow_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Run folder (default: run.out_dir from the flow, else runs/<run.name>).",
)
@click.option(
    "--from-step", default=None, help="Re-run from this step (earlier ones must be done)."
)
@click.option("--to-step", default=None, help="Stop after this step.")
def run(flow_file: Path, out_dir: Path | None, from_step: str | None, to_step: str | None) -> None:
    """Run the flow in FLOW_FILE; a re-run skips steps already done with the same config."""
    from codesign.flow.steps import STEPS  # noqa: PLC0415 (keeps `codesign --help` fast)

    t0 = time.perf_counter()
    cfg = load_flow_config(flow_file).with_overrides(
        out_dir=out_dir, from_step=from_step, to_step=to_step
    )
    columns = (
        TextColumn("{task.description:>10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=False) as progress:
        result = run_flow(cfg, STEPS, progress=_Bars(progress))
    out = Console()
    out.print(_steps_table(result))
    report = result.state.results.get("evaluate")
    if report is not None:
        out.print(_report_table(report, result))
    out.print(f"run folder: {result.run_dir}  ({time.perf_counter() - t0:.1f} s in all)")


def _steps_table(result: FlowResult) -> Table:
    table = Table(title="steps")
    table.add_column("step")
    table.add_column("status")
    table.add_column("seconds", justify="right")
    for rec in result.records:
        status = "done (reused)" if rec.reused else rec.status
        seconds = "" if rec.seconds is None else f"{rec.seconds:.1f}"
        table.add_row(rec.name, status, seconds)
    return table


def _report_table(report: dict[str, Any], result: FlowResult) -> Table:
    train = result.state.results.get("train") or {}
    title = f"test accuracy on {report['n_test']} images"
    if train.get("bits"):
        title += f" ({train['bits']})"
    table = Table(title=title)
    table.add_column("condition")
    table.add_column("severity", justify="right")
    table.add_column("accuracy", justify="right")
    table.add_column("vs clean", justify="right")
    clean = report["clean_accuracy"]
    table.add_row("clean", "", f"{clean:.2%}", "")
    for c in report["corrupted"]:
        drop = 100 * (c["accuracy"] - clean)
        table.add_row(
            c["corruption"], str(c["severity"]), f"{c['accuracy']:.2%}", f"{drop:+.1f} pts"
        )
    return table
