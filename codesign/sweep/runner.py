"""Run a sweep: expand the points, skip those already done, run the rest, record each.

Two engines run the same tasks (:func:`codesign.sweep.execute.execute_point`, one fresh
process per point):

* the default local pool: ``jobs`` points at once (:func:`default_jobs` sizes it to the
  cores and the memory a point's Verilator and Yosys runs take);
* a Dask distributed cluster (``scheduler="tcp://HOST:PORT"``): each point is one Dask
  task; workers need the codesign install and the sweep folder's path (a shared file
  system) and write their records to the results database.

Kill-safety: the sweep's state is one atomic record per point (:mod:`codesign.sweep.store`),
written when the point ends; the points of a flow resume their own steps. A sweep killed at
any instant and started again runs exactly the points without a ``done`` record (and, with
``retry_failed``, the ``failed`` ones), each once. Points with the same training config
share one checkpoint: the first trains, the others wait for it and reuse it.

Example::

    summary = run_sweep(load_sweep_spec(Path("flows/sweep-quickstart.yaml")))
    summary.done, summary.failed
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from codesign.errors import CodesignError
from codesign.io import atomic_write_json
from codesign.sweep.db import DB_FILE
from codesign.sweep.execute import execute_point, make_task
from codesign.sweep.expand import Point, expand
from codesign.sweep.point import SHARED_DIR
from codesign.sweep.spec import SweepSpec
from codesign.sweep.store import PointRecord, PointStatus, PointStore

log = logging.getLogger(__name__)

LOCK_FILE = ".sweep.lock"
SPEC_FILE = "sweep.json"

ProgressFn = Callable[[PointRecord, int, int], None]
"""``progress(record, finished, total)``, called as each point ends."""


@dataclass
class SweepSummary:
    """What :func:`run_sweep` returns.

    Attributes:
        sweep_dir: The sweep folder.
        points: Points in the sweep.
        ran: Points run by this invocation.
        skipped: Points already recorded (done, or failed without ``retry_failed``).
        done: Points with a ``done`` record after this invocation.
        failed: Points with a ``failed`` record after this invocation.
        seconds: Wall time of this invocation.
    """

    sweep_dir: Path
    points: int
    ran: int = 0
    skipped: int = 0
    done: int = 0
    failed: int = 0
    seconds: float = 0.0
    failures: list[dict[str, Any]] = field(default_factory=list)


def default_jobs(memory_per_point_gb: float) -> int:
    """Points at once: one per core, fewer where memory would not hold that many.

    A point's peak is Verilator's g++ build or a Yosys run (about 1-2 GB for the
    quickstart designs), so the pool takes ``available memory / memory_per_point_gb``.
    """
    cores = len(os.sched_getaffinity(0))
    free_gb = psutil.virtual_memory().available / 2**30
    return max(1, min(cores, int(free_gb // memory_per_point_gb)))


def run_sweep(
    spec: SweepSpec,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    retry_failed: bool = False,
    db: str | None = None,
    progress: ProgressFn | None = None,
) -> SweepSummary:
    """Run the points of ``spec`` not yet done; see the module docstring.

    Args:
        spec: The sweep.
        jobs: Local pool size (default ``spec.execution.jobs`` or :func:`default_jobs`).
        scheduler: Dask scheduler address (``tcp://HOST:PORT``); ``None``: local pool.
        retry_failed: Also re-run points recorded as failed.
        db: Results database URL the points are written to (default ``sweep.db``, else
            ``SWEEP_DIR/results.sqlite``).
        progress: Called as each point ends.

    Raises:
        ConfigError: The spec does not expand.
        CodesignError: Another sweep is running in the same folder, or the scheduler is
            unreachable.
    """
    t0 = time.perf_counter()
    points = expand(spec)
    sweep_dir = spec.resolved_out_dir()
    sweep_dir.mkdir(parents=True, exist_ok=True)
    db = db or spec.sweep.db or f"sqlite:///{sweep_dir / DB_FILE}"
    store = PointStore(sweep_dir)
    summary = SweepSummary(sweep_dir=sweep_dir, points=len(points))
    with _exclusive(sweep_dir):
        atomic_write_json(sweep_dir / SPEC_FILE, spec.model_dump(mode="json"))
        store.write_plan(
            [{"digest": p.digest, "labels": p.labels, "config": p.config} for p in points]
        )
        todo: list[tuple[Point, int]] = []
        for p in points:
            rec = store.get(p.digest)
            if rec is not None and (rec.status is PointStatus.DONE or not retry_failed):
                summary.skipped += 1
                continue
            todo.append((p, (rec.attempts + 1) if rec is not None else 1))
        log.info(
            "sweep %s: %d points, %d to run, %d already recorded",
            spec.sweep.name,
            len(points),
            len(todo),
            summary.skipped,
        )
        tasks = [
            (
                p,
                make_task(
                    p.config,
                    digest=p.digest,
                    labels=p.labels,
                    timeouts={s: spec.execution.timeout(s) for s in p.config["run"]["steps"]},
                    shared_root=sweep_dir / SHARED_DIR,
                    shared=p.shared_steps,
                    attempts=attempts,
                    db=db,
                    sweep=spec.sweep.name,
                ),
            )
            for p, attempts in todo
        ]
        finished = 0

        def on_done(data: dict[str, Any]) -> None:
            nonlocal finished
            record = PointRecord.from_dict(data)
            store.put(record)
            finished += 1
            summary.ran += 1
            if progress is not None:
                progress(record, finished, len(tasks))

        if scheduler is None:
            n = jobs or spec.execution.jobs or default_jobs(spec.execution.memory_per_point_gb)
            _run_local(tasks, n, on_done, sweep_dir / SHARED_DIR)
        else:
            _run_dask(tasks, scheduler, on_done)
    configs = {p.digest: p.config for p in points}
    _sync_db(db, spec.sweep.name, [r for r in store if r.digest in configs], configs)
    for rec in store:
        if rec.digest not in configs:
            continue
        if rec.status is PointStatus.DONE:
            summary.done += 1
        else:
            summary.failed += 1
            summary.failures.append({"digest": rec.digest, "labels": rec.labels, **rec.failure})
    summary.seconds = round(time.perf_counter() - t0, 3)
    return summary


def _sync_db(
    url: str, sweep: str, records: list[PointRecord], configs: dict[str, dict[str, Any]]
) -> None:
    """Write the recorded points the database lacks or holds in another state.

    That is a database write that failed, or a kill between it and the point record.
    """
    from codesign.sweep.db import load_points, save_point  # noqa: PLC0415

    stored = {(r["digest"], r["status"], r["attempts"]) for r in load_points(url, sweep)}
    for rec in records:
        if (rec.digest, rec.status.value, rec.attempts) not in stored:
            log.info("results db: writing point %s", rec.digest)
            save_point(url, sweep, rec, configs[rec.digest])


def _run_local(
    tasks: list[tuple[Point, dict[str, Any]]],
    jobs: int,
    on_done: Callable[[dict[str, Any]], None],
    shared_root: Path,
) -> None:
    """A thread per running point, each waiting on the point's own process."""
    pending = list(tasks)
    running: dict[Future, Point] = {}
    training: Counter[str] = Counter()  # train digests of running points
    log.info("local pool: %d points at once", jobs)
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="point") as pool:
        while pending or running:
            for item in list(pending):
                if len(running) >= jobs:
                    break
                point, task = item
                td = point.train_digest
                # Wait for the running point that trains this checkpoint, then reuse it.
                if td and training[td] and not (shared_root / "train" / td).exists():
                    continue
                pending.remove(item)
                running[pool.submit(execute_point, task)] = point
                if td:
                    training[td] += 1
            if not running:  # unreachable: a waiting point always has a running trainer
                raise CodesignError("sweep scheduler stalled; this is a bug")
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                point = running.pop(fut)
                if point.train_digest:
                    training[point.train_digest] -= 1
                on_done(fut.result())


def _run_dask(
    tasks: list[tuple[Point, dict[str, Any]]],
    scheduler: str,
    on_done: Callable[[dict[str, Any]], None],
) -> None:
    """One Dask task per point; a point that reuses a checkpoint waits for its trainer."""
    from distributed import as_completed  # noqa: PLC0415 (Dask only when asked)

    from codesign.cluster import dask_client  # noqa: PLC0415

    client = dask_client(scheduler)
    with client:
        trainers: dict[str, Any] = {}
        futures = []
        for point, task in tasks:
            td = point.train_digest
            after = [trainers[td]] if td in trainers else []
            fut = client.submit(
                execute_point,
                task,
                *after,
                key=f"point-{point.digest}-{task['attempts']}",
                pure=False,
            )
            if td and td not in trainers:
                trainers[td] = fut
            futures.append(fut)
        log.info("submitted %d points to %s", len(futures), scheduler)
        for fut in as_completed(futures):
            on_done(fut.result())


@contextlib.contextmanager
def _exclusive(sweep_dir: Path) -> Iterator[None]:
    with (sweep_dir / LOCK_FILE).open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CodesignError(
                f"another sweep is running in {sweep_dir}; wait for it, or set sweep.out_dir"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
