"""``codesign doctor``: is this machine ready? Renders :mod:`codesign.doctor`'s checks."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from codesign.doctor import CheckResult, Status, all_required_ok, run_checks
from codesign.io import atomic_write_json
from codesign.runs import check_output_file
from codesign.settings import get_settings

_STYLE = {
    Status.OK: "green",
    Status.WARN: "yellow",
    Status.ABSENT: "yellow",
    Status.BROKEN: "bold red",
}


@click.command("doctor")
@click.option(
    "--full",
    is_flag=True,
    help="Also build and run a Verilator testbench and synthesize with Yosys (about 20 s more).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the results to this JSON file.",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=1),
    default=600,
    show_default=True,
    help="Seconds allowed per external command.",
)
def doctor(full: bool, json_path: Path | None, timeout_s: float) -> None:
    """Check Python packages, Verilator, Yosys, Vivado and the datasets.

    Exits 1 when a required item is missing or broken. Vivado and Vitis HLS are optional:
    without them they are reported absent, with how to add them.
    """
    if json_path is not None:
        check_output_file(json_path, "--json")  # fail before the checks, not after
    console = Console(highlight=False)
    with console.status("checking packages, tools and datasets..."):
        results = run_checks(get_settings(), full=full, timeout_s=timeout_s)
    console.print(_table(results))
    fixes = [r for r in results if r.fix and r.status is not Status.OK]
    if fixes:
        console.print("\n[bold]How to fix:[/]")
        for r in fixes:
            # soft_wrap keeps each command on one line, so it can be copied.
            console.print(f"  {r.name}: {r.fix}", soft_wrap=True, markup=False)
    if json_path is not None:
        atomic_write_json(json_path, [r.to_dict() for r in results])
    ok = all_required_ok(results)
    console.print(
        "\n[bold green]ready[/]: every required item works"
        if ok
        else "\n[bold red]not ready[/]: a required item is missing or broken"
    )
    if not ok:
        sys.exit(1)


def _table(results: list[CheckResult]) -> Table:
    table = Table(title="codesign doctor")
    table.add_column("kind")
    table.add_column("item", style="bold")
    table.add_column("status")
    table.add_column("required")
    table.add_column("details", overflow="fold")
    for r in results:
        table.add_row(
            r.group.value,
            r.name,
            f"[{_STYLE[r.status]}]{r.status.value}[/]",
            "yes" if r.required else "optional",
            r.detail,
        )
    return table
