"""``codesign run FLOW.yaml``: run (or resume) a flow, show progress and the final report."""

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
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from codesign.cli.main import err_console, stdout_to_log
from codesign.cli.progress import ProgressBars
from codesign.flow.config import load_flow_config
from codesign.flow.runner import FlowResult, run_flow


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
@click.option(
    "--force",
    is_flag=True,
    help="Write into an --out folder that holds other files (they are kept, never overwritten).",
)
def run(
    flow_file: Path, out_dir: Path | None, from_step: str | None, to_step: str | None, force: bool
) -> None:
    """Run the flow in FLOW_FILE; a re-run skips steps already done with the same config."""
    from codesign.flow.report import hardware_report, write_flow_report  # noqa: PLC0415
    from codesign.flow.steps import STEPS  # noqa: PLC0415 (keeps `codesign --help` fast)

    t0 = time.perf_counter()
    cfg = load_flow_config(flow_file, STEPS).with_overrides(
        out_dir=out_dir, from_step=from_step, to_step=to_step
    )
    columns = (
        TextColumn("{task.description:>10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with (
        stdout_to_log(),
        Progress(*columns, console=err_console, transient=False, redirect_stdout=False) as progress,
    ):
        result = run_flow(
            cfg,
            STEPS,
            progress=ProgressBars(progress),
            finish=lambda r: write_flow_report(cfg, r),
            force=force,
        )
    out = Console()
    out.print(_steps_table(result))
    report = result.state.results.get("evaluate")
    if report is not None:
        out.print(_report_table(report, result))
    hardware = hardware_report(result.state.results)
    if hardware is not None:
        out.print(_hardware_table(hardware, result.state.results))
    _print_dqmq(out, result.state.results)
    out.print(f"run folder: {result.run_dir}  ({time.perf_counter() - t0:.1f} s in all)")


def _print_dqmq(out: Console, results: dict[str, Any]) -> None:
    from codesign.cli.story import feedback_table, tier_table  # noqa: PLC0415

    if results.get("deploy_tiers"):
        out.print(tier_table(results["deploy_tiers"]))
    feedback = results.get("feedback_tiers") or results.get("feedback")
    if feedback:
        out.print(feedback_table(feedback))


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


def _hardware_table(hw: dict[str, Any], results: dict[str, Any]) -> Table:
    """FINN's analytic figures next to Verilator's and Yosys' (whole design)."""
    sim, synth = results.get("simulate"), results.get("synth")
    title = f"hardware: {hw['board']} at {1e3 / hw['clock_ns']:g} MHz"
    if sim is not None or synth is not None:
        tools = ["Verilator"] if sim is not None else []
        tools += [f"{synth['tool']} (whole design)"] if synth is not None else []
        title += f", measured by {' and '.join(tools)}"
    table = Table(title=title, caption="* FINN counts RTL MVAU LUTs as 0")
    table.add_column("")
    table.add_column("FINN estimate", justify="right")
    table.add_column("measured", justify="right")
    table.add_column("measured/FINN", justify="right")
    fps, cycles = hw["fps"], hw["cycles_per_frame"]
    table.add_row("FPS", *_pair(fps["estimated"], fps["measured"], "{:,.0f}"))
    row = _pair(cycles["analytic"], cycles["measured"], "{:,.0f}")
    table.add_row("cycles/frame", f"{row[0]} ({cycles['bottleneck']})", *row[1:])
    latency = hw["latency"]
    if latency["cycles"] is not None:
        table.add_row("latency", "", f"{latency['cycles']:,} cycles, {latency['us']:,.1f} us")
    finn, yosys = hw["resources"]["finn"], hw["resources"]["yosys"] or {}
    for key, label in (("lut", "LUT*"), ("ff", "FF"), ("dsp", "DSP"), ("bram18", "BRAM18")):
        table.add_row(label, *_pair(finn.get(key), yosys.get(key), "{:,.0f}"))
    if sim is not None:
        exact = all(sim["bit_exact"].values())
        verdict = "yes" if exact else "NO"
        table.add_row("bit-exact", "", f"{verdict}: {sim['frames']} frames vs FINN, Brevitas")
        table.add_row("RTL accuracy", "", f"{sim['accuracy']:.2%}")
    return table


def _pair(est: float | None, got: float | None, fmt: str) -> tuple[str, str, str]:
    ratio = "" if not est or got is None else f"{got / est:.2f}"
    return (
        "-" if est is None else fmt.format(est),
        "-" if got is None else fmt.format(got),
        ratio,
    )
