"""``codesign train``, ``codesign tiers`` and ``codesign evaluate``: the DQMQ commands."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from codesign.cli.main import err_console
from codesign.cli.progress import ProgressBars
from codesign.errors import ConfigError


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:>22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[metrics]}"),
        TimeElapsedColumn(),
        console=err_console,
    )


@click.command("train")
@click.argument("flow_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Run folder (default: run.out_dir, else runs/<run.name>).")  # fmt: skip
def train(flow_file: Path, out_dir: Path | None) -> None:
    """Train the flow's DQMQ model (the ``train_dqmq`` step); resumes a killed run."""
    from codesign.flow.config import load_flow_config  # noqa: PLC0415
    from codesign.flow.runner import run_flow  # noqa: PLC0415
    from codesign.flow.steps import STEPS  # noqa: PLC0415

    cfg = load_flow_config(flow_file)
    if "train_dqmq" not in cfg.run.steps:
        raise ConfigError(f"{flow_file}: run.steps has no train_dqmq step; add it to train DQMQ")
    cfg = cfg.with_overrides(out_dir=out_dir, to_step="train_dqmq")
    with _progress() as progress:
        result = run_flow(cfg, STEPS, progress=ProgressBars(progress))
    summary = result.state.results.get("train_dqmq", {})
    table = Table(title="train_dqmq")
    for key in ("loss", "acc", "bits", "cost"):
        table.add_column(key)
    last = summary.get("last_epoch", {})
    table.add_row(*(str(last.get(k, "")) for k in ("loss", "acc", "bits", "cost")))
    Console().print(table)
    Console().print(f"checkpoint: {result.state.path('switchable_checkpoint')}")


@click.command("tiers")
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--k", "k", type=click.IntRange(1, 16), default=2, show_default=True,
              help="Number of static tiers.")  # fmt: skip
def tiers(run_dir: Path, k: int) -> None:
    """Cut K static bit configs (tiers) and a numpy router from a DQMQ run."""
    from codesign.flow.config import load_flow_config  # noqa: PLC0415
    from codesign.flow.dqmq import CHECKPOINT_FILE, TIERS_FILE, make_tiers  # noqa: PLC0415

    resolved = run_dir / "config.yaml"
    if not resolved.is_file():
        raise ConfigError(f"{run_dir} has no config.yaml; is it a flow run folder?")
    cfg = load_flow_config(resolved)
    result = make_tiers(run_dir / CHECKPOINT_FILE, cfg, k, run_dir / TIERS_FILE)
    table = Table(title=f"{result['k']} tier(s) -> {run_dir / TIERS_FILE}")
    for col in ("tier", "bits", "cost", "share of training data"):
        table.add_column(col)
    for i, (d, c, s) in enumerate(
        zip(result["describe"], result["cost"], result["share"], strict=True)
    ):
        table.add_row(str(i), d, f"{c:.4f}", f"{s:.3f}")
    Console().print(table)


@click.command("evaluate")
@click.argument("flow_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated seeds.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Output folder (checkpoints per seed and method, tables, plots).")  # fmt: skip
def evaluate(flow_file: Path, seeds: str, out_dir: Path) -> None:
    """Compare DQMQ with its baselines on clean and corrupted test data (resumable)."""
    from codesign.flow.config import load_flow_config  # noqa: PLC0415
    from codesign.flow.dqmq_compare import compare  # noqa: PLC0415

    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"--seeds must be comma-separated integers, got {seeds!r}") from None
    cfg = load_flow_config(flow_file)
    with _progress() as progress:
        compare(cfg, seed_list, out_dir, progress=ProgressBars(progress))
    Console().print((out_dir / "summary.md").read_text())  # the table, and the router headroom
