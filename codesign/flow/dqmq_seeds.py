"""``codesign evaluate --jobs N``: the seeds of an evaluation in parallel processes.

Each seed runs :func:`codesign.flow.dqmq_compare.evaluate_seed` in a process of its own (one
torch thread each, the flow's ``run.torch_threads``) and logs to ``OUT/seed<s>/evaluate.log``.
Its rows land atomically in ``OUT/seed<s>/rows.json``, so a killed run, rerun, does only the
seeds still missing. Every seed's training is seeded and shares nothing with the others, so a
seed's rows are the same whether it ran alone or beside others (tested); Ctrl-C or SIGTERM
stops the workers at once (what they wrote is atomic: checkpoints and rows are whole or
absent). Why: the seeds are what a DQMQ comparison needs many of (the gaps are a few tenths
of a point, the seed spread as large), and each runs best on one core; a 16-core machine runs
16 at the speed of one.

``codesign evaluate --scheduler tcp://HOST:PORT`` sends the seeds to a Dask distributed
scheduler instead, one task per seed, like ``codesign sweep --scheduler``: machines whose
workers (``dask worker HOST:PORT --nthreads 1``) share the ``OUT`` folder run the seeds; the
rows, logs and resume are the same.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from codesign.flow.config import FlowConfig
from codesign.flow.dqmq_compare import rows_file

log = logging.getLogger(__name__)

__all__ = ["SeedFailure", "missing_seeds", "parse_seeds", "run_seeds"]

LOG_FILE = "evaluate.log"


@dataclass(frozen=True)
class SeedFailure:
    """A seed whose evaluation raised: its seed and the error in one line."""

    seed: int
    error: str


def parse_seeds(text: str) -> list[int]:
    """``"0,2,5-8"`` -> ``[0, 2, 5, 6, 7, 8]`` (in order, no repeats).

    Raises:
        ValueError: Not comma-separated non-negative integers or ``a-b`` ranges with a <= b.
    """
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise ValueError(f"{part!r} is not a seed or a range like 5-8")
        first, last = int(lo), int(hi) if sep else int(lo)
        if last < first:
            raise ValueError(f"range {part!r} runs backwards")
        seeds.extend(s for s in range(first, last + 1) if s not in seeds)
    if not seeds:
        raise ValueError("no seeds given")
    return seeds


def missing_seeds(seeds: Sequence[int], out: Path) -> list[int]:
    """The seeds without rows in ``out`` yet (those a run still has to evaluate)."""
    return [s for s in seeds if not rows_file(out, s).is_file()]


def run_seeds(
    cfg: FlowConfig,
    seeds: Sequence[int],
    out: Path,
    jobs: int,
    on_done: Callable[[int, str | None], None] | None = None,
    scheduler: str | None = None,
) -> list[SeedFailure]:
    """Evaluate the seeds that have no rows yet, ``jobs`` processes at a time (or on Dask).

    Args:
        cfg: The flow (its ``dqmq:`` section).
        seeds: The seeds; those with ``OUT/seed<s>/rows.json`` are skipped.
        out: The evaluation folder (with ``scheduler``: one the workers share).
        jobs: Processes at once (each about 1 GB for the quickstart network).
        on_done: Called per finished seed with ``(seed, None)`` or ``(seed, error line)``.
        scheduler: A Dask distributed scheduler's address: its workers run the seeds.

    Returns:
        The seeds that failed (the others' rows are written); empty when all ran.

    Raises:
        CodesignError: The scheduler cannot be reached.
    """
    out = Path(out)
    todo = missing_seeds(seeds, out)
    failures: list[SeedFailure] = []
    if not todo:
        return failures
    if scheduler is None:
        log.info("evaluating %d seed(s), %d at a time", len(todo), min(jobs, len(todo)))
        results = _local(cfg, todo, out, jobs)
    else:
        log.info("evaluating %d seed(s) on %s", len(todo), scheduler)
        results = _dask(cfg, todo, out, scheduler)
    for seed, error in results:
        if error is not None:
            failures.append(SeedFailure(seed, error))
            log.error("seed %d failed: %s (log: %s)", seed, error, out / f"seed{seed}" / LOG_FILE)
        if on_done is not None:
            on_done(seed, error)
    return sorted(failures, key=lambda f: f.seed)


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


def _local(
    cfg: FlowConfig, todo: Sequence[int], out: Path, jobs: int
) -> Iterator[tuple[int, str | None]]:
    """``(seed, error or None)`` as the seeds finish in a pool of spawned processes."""
    spawn = multiprocessing.get_context("spawn")  # no forked torch/OpenMP state
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=spawn)
    try:
        futures = {pool.submit(_seed_task, cfg, seed, out): seed for seed in todo}
        for fut in as_completed(futures):
            try:
                fut.result()
                yield futures[fut], None
            except Exception as exc:  # noqa: BLE001 (one seed's failure must not stop the rest)
                yield futures[fut], _error(exc)
    except BaseException:  # Ctrl-C, SIGTERM: stop the workers now, not after their seeds
        pool.shutdown(wait=False, cancel_futures=True)
        for child in multiprocessing.active_children():
            child.terminate()
        raise
    pool.shutdown()


def _dask(
    cfg: FlowConfig, todo: Sequence[int], out: Path, scheduler: str
) -> Iterator[tuple[int, str | None]]:
    """``(seed, error or None)`` as the seeds finish on a Dask scheduler's workers."""
    from distributed import as_completed  # noqa: PLC0415 (Dask only when asked)

    from codesign.cluster import dask_client  # noqa: PLC0415

    client = dask_client(scheduler)
    with client:
        futures = {
            client.submit(_seed_task, cfg, seed, out, key=f"seed-{seed}-{out}", pure=False): seed
            for seed in todo
        }
        try:
            for fut in as_completed(futures):
                try:
                    fut.result()
                    yield futures[fut], None
                except Exception as exc:  # noqa: BLE001
                    yield futures[fut], _error(exc)
        except BaseException:  # Ctrl-C: take the seeds off the cluster
            client.cancel(list(futures))
            raise


def _seed_task(cfg: FlowConfig, seed: int, out: Path) -> int:
    """One seed, in a worker process, logging to ``OUT/seed<s>/evaluate.log``."""
    from codesign.flow.dqmq_compare import evaluate_seed  # noqa: PLC0415

    folder = Path(out) / f"seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(folder / LOG_FILE)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        evaluate_seed(cfg, seed, out)
    except Exception:
        log.exception("seed %d failed", seed)
        raise
    finally:
        root.removeHandler(handler)
        handler.close()
    return seed
