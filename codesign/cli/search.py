"""``codesign search FLOW.yaml --board B --fps F``: APQ joint search, then the winner's hardware."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from codesign.cli.main import err_console
from codesign.cli.progress import ProgressBars


@click.command()
@click.argument("flow_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--board", default=None, help="Board name (default: the flow's compile.board).")
@click.option("--fps", type=float, default=None, help="FPS target (default: compile.fps).")
@click.option("--lut-budget", type=int, default=None, help="LUT cap below the board's.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Run folder (default: runs/<run.name>-search).",
)
@click.option(
    "--hardware",
    "hardware",
    multiple=True,
    default=("joint",),
    show_default=True,
    help="Methods whose winner is compiled, simulated and synthesized (repeat; 'none').",
)
@click.option(
    "--db",
    "db_url",
    default=None,
    help="Results database URL (default: sqlite runs/results.sqlite); 'none' to skip.",
)
@click.option(
    "--search-seed",
    type=int,
    default=None,
    help="Seed of the evolution only (default run.seed); results go to OUT/search_seed<N>/.",
)
@click.option(
    "--rounds",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Measured rounds per --hardware method: correct the pricing with the measured "
    "winner and search again until it measures within budget (docs/search.md).",
)
@click.option(
    "--reference",
    default="sequential",
    show_default=True,
    help="With --rounds: the method whose measured LUTs cap the other methods' budget.",
)
def search(
    flow_file: Path,
    board: str | None,
    fps: float | None,
    lut_budget: int | None,
    out_dir: Path | None,
    hardware: tuple[str, ...],
    db_url: str | None,
    search_seed: int | None,
    rounds: int,
    reference: str,
) -> None:
    """APQ: search architecture, pruning and bits jointly under BOARD's budget at FPS."""
    from codesign.cost.calibration import load_cost_model  # noqa: PLC0415
    from codesign.cost.db import ResultsDB  # noqa: PLC0415
    from codesign.errors import ConfigError  # noqa: PLC0415
    from codesign.flow.config import load_flow_config  # noqa: PLC0415
    from codesign.flow.from_model import model_hardware  # noqa: PLC0415
    from codesign.flow.steps import STEPS  # noqa: PLC0415 (the flow's step registry)
    from codesign.search.run import SearchTarget, family_pricer, run_search  # noqa: PLC0415

    t0 = time.perf_counter()
    cfg = load_flow_config(flow_file)
    if cfg.search is None:
        raise ConfigError(f"{flow_file}: no 'search:' section; start from flows/apq.yaml")
    board = board or (cfg.compile.board if cfg.compile else "pynq-z2")
    fps = fps or (cfg.compile.fps if cfg.compile and cfg.compile.fps else None)
    if fps is None:
        raise ConfigError("give --fps (or compile.fps in the flow)")
    from codesign.boards import load_board  # noqa: PLC0415

    cost_model = load_cost_model(load_board(board).family.value)
    out_dir = out_dir or Path("runs") / f"{cfg.run.name}-search"
    columns = (
        TextColumn("{task.description:>20}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console) as progress:
        report = run_search(
            cfg,
            SearchTarget(board=board, fps=fps, lut_budget=lut_budget),
            out_dir,
            price_fn=family_pricer(cost_model),
            cost_version=cost_model.version,
            hardware_for=tuple(h for h in hardware if h != "none"),
            hardware=partial(model_hardware, registry=STEPS),
            results_db=None if db_url == "none" else ResultsDB(db_url),
            progress=ProgressBars(progress),
            search_seed=search_seed,
            rounds=rounds,
            reference=reference,
        )
    table = Table(title=f"APQ on {report['board']} at {fps:g} FPS ({report['cost_model']})")
    for col in ("method", "bits", "widths", "pred.", "test acc", "est. LUT", "meas. LUT", "s"):
        table.add_column(col)
    for w in report["winners"]:
        synth = (w.get("measured") or {}).get("synth") or {}
        measured = (synth.get("whole") or {}).get("lut")
        table.add_row(
            w["method"],
            w["bits"],
            str(w["widths"]),
            f"{w['predicted_accuracy']:.3f}",
            f"{w['test_accuracy']:.3f}",
            "" if w["estimated"] is None else f"{w['estimated']['lut']:.0f}",
            "" if measured is None else f"{measured:.0f}",
            f"{w['search_s']:.1f}",
        )
    out = Console()
    out.print(table)
    if "rounds" in report:
        out.print(_rounds_table(report["rounds"]))
    seed_dir = out_dir / f"search_seed{report['search_seed']}"
    report_dir = out_dir if report["search_seed"] == report["seed"] else seed_dir
    out.print(f"report: {report_dir / 'search_report.json'}  ({time.perf_counter() - t0:.1f} s)")


def _rounds_table(rounds: dict) -> Table:
    """Each method's measured rounds: correction, estimate, measurement, accuracy."""
    table = Table(title=f"measured rounds (budget {rounds['budget_lut']:.0f} LUT)")
    for col in ("method", "round", "x LUT", "est. limit", "est. LUT", "meas. LUT", "DSP"):
        table.add_column(col)
    for col in ("budget", "test acc", "FPS", "bit-exact"):
        table.add_column(col)
    for method, res in rounds["methods"].items():
        for r in res["rounds"]:
            meas = r.get("measured") or {}
            exact = r.get("bit_exact") or {}
            table.add_row(
                method,
                str(r["round"]),
                f"{r['correction']['factors'].get('lut', 1.0):.3f}",
                f"{r['estimated_lut_limit']:.0f}",
                f"{r['estimated_lut'] or 0:.0f}",
                f"{meas.get('lut', 0):.0f}",
                f"{meas.get('dsp', 0):.0f}",
                f"{res['measured_budget_lut']:.0f}",
                f"{r['test_accuracy']:.4f}",
                "" if r.get("fps") is None else f"{r['fps']:.0f}",
                str(bool(exact) and all(exact.values())),
            )
    return table
