"""``codesign train``, ``codesign tiers`` and ``codesign evaluate``: the DQMQ commands."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from codesign.cli.main import err_console
from codesign.cli.progress import ProgressBars
from codesign.errors import CodesignError, ConfigError


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
@click.option("--seeds", default="0,1,2", show_default=True,
              help="Seeds: comma-separated, with ranges like 5-8.")  # fmt: skip
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Output folder (checkpoints per seed and method, tables, plots).")  # fmt: skip
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Seeds at once, each in a process of its own (about 1 GB each for the "
                   "quickstart network); each logs to OUT/seed<s>/evaluate.log.")  # fmt: skip
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Run the seeds on this Dask distributed scheduler instead (its workers "
                   "must share the --out folder).")  # fmt: skip
def evaluate(flow_file: Path, seeds: str, out_dir: Path, jobs: int, scheduler: str | None) -> None:
    """Compare DQMQ with its baselines on clean and corrupted test data (resumable)."""
    from codesign.flow.config import load_flow_config  # noqa: PLC0415
    from codesign.flow.dqmq_compare import aggregate, compare  # noqa: PLC0415
    from codesign.flow.dqmq_seeds import (  # noqa: PLC0415
        LOG_FILE,
        missing_seeds,
        parse_seeds,
        run_seeds,
    )

    try:
        seed_list = parse_seeds(seeds)
    except ValueError as exc:
        raise ConfigError(f"--seeds {seeds!r}: {exc}") from None
    cfg = load_flow_config(flow_file)
    left = missing_seeds(seed_list, out_dir)
    if left:  # a missing dataset is one line here, not one per worker
        from codesign.data.datasets import verify_dataset  # noqa: PLC0415

        verify_dataset(cfg.data.dataset.value)
    if jobs > 1 or scheduler is not None:
        with _progress() as progress:
            bar = progress.add_task("seeds", total=len(seed_list), metrics="")
            progress.update(bar, completed=len(seed_list) - len(left))

            def on_done(seed: int, error: str | None) -> None:
                progress.update(
                    bar, advance=1, metrics=f"seed {seed} {'FAILED' if error else 'done'}"
                )

            failures = run_seeds(cfg, seed_list, out_dir, jobs, on_done, scheduler=scheduler)
        if failures:
            failed = {f.seed for f in failures}
            for f in failures:
                log_file = out_dir / f"seed{f.seed}" / LOG_FILE
                err_console.print(f"seed {f.seed} failed: {f.error} (log: {log_file})")
            done = [s for s in seed_list if s not in failed]
            if done:
                aggregate(cfg, done, out_dir)
            raise CodesignError(
                f"{len(failed)} of {len(seed_list)} seed(s) failed; the finished seeds are kept "
                "and the same command runs only the missing ones"
            )
    with _progress() as progress:  # with --jobs or --scheduler every seed is done: aggregate
        compare(cfg, seed_list, out_dir, progress=ProgressBars(progress))
    Console().print((out_dir / "summary.md").read_text())  # the table, and the router headroom
