"""The flow runner: run a flow's steps in artifact order, record them, resume after a kill.

A flow is data: a list of :class:`~codesign.flow.core.Step` (name, function, the config
sections it reads, the artifacts it reads and writes). A step function has the signature
``step_x(state, cfg) -> state``; it writes its outputs into the run folder (atomically),
registers them with :meth:`FlowState.add_artifact`, and puts a small JSON summary into
``state.results[step name]``.

The runner:

* orders ``run.steps`` by artifacts (a step that writes ``checkpoint`` runs before those
  that read it; :func:`~codesign.flow.core.order_steps`); a step that reads an artifact no
  step of the flow writes takes it from an earlier run in the same folder, or the flow is
  rejected with a :class:`~codesign.errors.ConfigError` naming the artifact;
* creates the run folder and writes ``config.yaml`` (the resolved config) and ``flow.log``;
* keeps ``steps.json`` up to date: per step its status (``running``, ``done``, ``failed``,
  ``stale``), seconds, digest, the digests of the artifacts it read and wrote, and its
  results, rewritten atomically after every change;
* skips a step that is ``done`` when its digest (its config sections, the seed and the
  digests of the artifacts it reads) is unchanged and its artifacts exist. A step killed
  mid-way is left ``running`` in ``steps.json`` and simply runs again. A step that re-runs
  and writes different bytes makes its readers run again; done steps beyond ``to_step``
  that read them are marked ``stale``;
* honours ``run.from_step`` (re-run from there; earlier steps must have usable outputs) and
  ``run.to_step`` (stop after it), both in the artifact order.

Progress goes to an optional callback ``progress(task, completed, total)``; the CLI turns it
into rich progress bars. Nothing here prints.

Example::

    from codesign.flow.steps import STEPS
    cfg = load_flow_config(Path("flows/quickstart.yaml"), STEPS)
    result = run_flow(cfg, STEPS)
    result.state.results["evaluate"]["clean_accuracy"]
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codesign.errors import CodesignError, ConfigError
from codesign.flow.config import FlowConfig, write_resolved_config
from codesign.flow.core import (
    FlowState,
    ProgressFn,
    Step,
    missing_artifact_message,
    order_steps,
    producers,
    select_steps,
    step_digest,
    upstream,
)
from codesign.io import atomic_write_json
from codesign.runs import RunKind, claim_out_dir

log = logging.getLogger(__name__)

STEPS_FILE = "steps.json"
CONFIG_FILE = "config.yaml"
LOG_FILE = "flow.log"
LOCK_FILE = ".flow.lock"

__all__ = ["FlowResult", "FlowState", "ProgressFn", "Step", "StepRecord", "run_flow"]


@dataclass
class StepRecord:
    """One entry of ``steps.json``.

    Attributes:
        reads: Artifact -> the digest this run of the step read.
        artifacts: Artifact -> path (relative to the run folder) the step wrote.
        artifact_digests: Artifact -> digest of what the step wrote.
    """

    name: str
    status: str = "pending"  # pending | running | done | failed | stale
    digest: str = ""
    seconds: float | None = None
    started: str | None = None
    finished: str | None = None
    reused: bool = False
    reads: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    artifact_digests: dict[str, str] = field(default_factory=dict)
    results: Any = None
    error: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepRecord:
        """Rebuild a record from ``steps.json``, ignoring keys it does not know."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


@dataclass
class FlowResult:
    """What :func:`run_flow` returns.

    Attributes:
        run_dir: The run folder.
        state: The state after the last step that ran (or was reused).
        records: One record per step of the flow, in the order they ran.
        seconds: Wall time of this invocation.
    """

    run_dir: Path
    state: FlowState
    records: list[StepRecord]
    seconds: float

    def record(self, name: str) -> StepRecord:
        """The record of step ``name``."""
        return next(r for r in self.records if r.name == name)


def load_records(run_dir: Path) -> dict[str, StepRecord]:
    """The records in ``run_dir/steps.json`` by step name (empty if there is none)."""
    path = Path(run_dir) / STEPS_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        return {r["name"]: StepRecord.from_dict(r) for r in data["steps"]}
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        log.warning("ignoring unreadable %s (%s); every step will run", path, err)
        return {}


def plan_steps(cfg: FlowConfig, registry: Mapping[str, Step], available: set[str]) -> list[Step]:
    """The flow's steps from ``registry``, ordered by the artifacts they read and write.

    Raises:
        ConfigError: A step is unknown, two steps write one artifact, or a step reads an
            artifact no step writes and ``available`` (left by earlier runs) lacks.
    """
    unknown = [n for n in cfg.run.steps if n not in registry]
    if unknown:
        raise ConfigError(f"unknown step {unknown[0]!r}; known steps: {', '.join(registry)}")
    steps = [registry[n] for n in cfg.run.steps]
    for step in steps:  # checked at load time too when the registry was passed in
        for section in step.sections:
            if getattr(cfg, section, None) is None:
                raise ConfigError(
                    f"step {step.name!r} needs a '{section}:' section; add one, "
                    f"or drop {step.name!r} from run.steps"
                )
    try:
        return order_steps(steps, available)
    except ConfigError as err:
        # Name the registered steps that would provide a missing artifact.
        for step in steps:
            for art in step.reads:
                if art not in available and not any(art in s.writes for s in steps):
                    raise ConfigError(
                        missing_artifact_message(step.name, art, registry.values())
                    ) from None
        raise err from None


def run_flow(
    cfg: FlowConfig,
    registry: Mapping[str, Step],
    *,
    progress: ProgressFn | None = None,
    finish: Callable[[FlowResult], object] | None = None,
    force: bool = False,
) -> FlowResult:
    """Run the steps of ``cfg.run.steps``, resuming from what the run folder already holds.

    Args:
        cfg: The flow config (``cfg.run`` names the steps, the run folder and the range).
        registry: Step name -> :class:`Step` (normally ``codesign.flow.steps.STEPS``).
        progress: Optional ``progress(task, completed, total)`` callback.
        finish: Called with the result once the last step is done, still holding the run
            folder's lock (``codesign run`` writes the flow report there).
        force: Accept a run folder that holds files codesign did not write (they are kept;
            :func:`codesign.runs.claim_out_dir`).

    Returns:
        The run folder, the final state and one record per step.

    Raises:
        ConfigError: A step name is unknown, a step reads an artifact that nothing
            provides, or ``from_step`` needs earlier outputs that the run folder lacks.
        OutputPathError: The run folder is not this flow's to write (:mod:`codesign.runs`).
        Exception: Whatever a step raised; its record says ``failed`` with the message.
    """
    t_flow = time.perf_counter()
    run_dir = cfg.run.resolved_out_dir().resolve()
    out = claim_out_dir(run_dir, RunKind.FLOW, force=force)
    old = load_records(run_dir)
    flow_names = set(cfg.run.steps)
    written = {a for n in cfg.run.steps if n in registry for a in registry[n].writes}
    leftover = _leftover_artifacts(old, flow_names, written, run_dir)
    steps = plan_steps(cfg, registry, set(leftover))
    names = [s.name for s in steps]
    selected = set(select_steps(names, cfg.run.from_step, cfg.run.to_step))
    last = max(i for i, name in enumerate(names) if name in selected)
    inputs = producers(steps)
    needed = upstream(selected, inputs) - selected  # steps before from_step that are read

    records = [old.get(name) or StepRecord(name=name) for name in names]
    others = [r for name, r in old.items() if name not in flow_names]
    for rec in records:
        rec.reused = False  # per invocation
    state = FlowState(run_dir=run_dir, progress=progress)
    for art, (path, digest) in leftover.items():
        state.artifacts[art], state.digests[art] = path, digest
        log.info("artifact %s: using %s from an earlier run", art, path)

    def save() -> None:
        atomic_write_json(
            run_dir / STEPS_FILE,
            {
                "flow": cfg.run.name,
                "source": str(cfg.source) if cfg.source else None,
                "updated": _now(),
                "steps": [r.__dict__ for r in [*records, *others]],
            },
        )

    out.prepare()
    try:
        with _exclusive(run_dir), _log_to(run_dir / LOG_FILE):
            write_resolved_config(cfg.with_overrides(out_dir=run_dir), run_dir / CONFIG_FILE)
            log.info("flow %s -> %s (steps: %s)", cfg.run.name, run_dir, ", ".join(names))
            state.report("steps", 0, last + 1)
            for i, (step, rec) in enumerate(zip(steps, records, strict=True)):
                if i > last:
                    break
                have_inputs = all(a in state.digests for a in step.reads)
                digest = _digest(step, cfg, state) if have_inputs else ""
                usable = have_inputs and _usable(rec, digest, run_dir)
                if step.name not in selected:  # before from_step: reuse or fail
                    if not usable and step.name not in needed:
                        continue
                    if not usable:
                        raise ConfigError(
                            f"--from-step {cfg.run.from_step} needs the outputs of step "
                            f"{step.name!r}, but {run_dir} has none for this config; run the "
                            f"flow without --from-step (or from {step.name!r}) first"
                        )
                    _restore(state, rec)
                    log.info("step %s: using earlier outputs", step.name)
                    continue
                if not have_inputs:
                    art = next(a for a in step.reads if a not in state.digests)
                    raise ConfigError(missing_artifact_message(step.name, art, registry.values()))
                if usable and cfg.run.from_step is None:
                    _restore(state, rec)
                    rec.reused = True
                    log.info("step %s: done before with these inputs, skipped", step.name)
                    state.report("steps", i + 1, last + 1)
                    save()
                    continue
                wrote_before = dict(rec.artifact_digests)  # what the step's last run wrote
                state = _run_step(step, rec, state, cfg, digest, save)
                changed = {a for a in step.writes if wrote_before.get(a) != state.digests.get(a)}
                _mark_stale(changed, steps[last + 1 :], records[last + 1 :])
                save()
                state.report("steps", i + 1, last + 1)
            result = FlowResult(run_dir, state, records, time.perf_counter() - t_flow)
            if finish is not None:
                finish(result)
    except BaseException:
        out.abandon(scratch=frozenset({LOCK_FILE, CONFIG_FILE, LOG_FILE}))  # nothing ran
        raise
    return result


def _digest(step: Step, cfg: FlowConfig, state: FlowState) -> str:
    sections = {s: cfg.section_dict(s) for s in step.sections}
    return step_digest(step, cfg.run.seed, sections, state.digests)


def _leftover_artifacts(
    old: Mapping[str, StepRecord], flow: set[str], written: set[str], run_dir: Path
) -> dict[str, tuple[str, str]]:
    """Artifacts that earlier runs' steps (not in this flow) left and no flow step writes."""
    out: dict[str, tuple[str, str]] = {}
    done = sorted(
        (r for name, r in old.items() if name not in flow and r.status == "done"),
        key=lambda r: r.finished or "",
    )
    for rec in done:  # the most recent producer wins
        for art, path in rec.artifacts.items():
            digest = rec.artifact_digests.get(art)
            if art not in written and digest and (run_dir / path).exists():
                out[art] = (path, digest)
    return out


def _run_step(
    step: Step,
    rec: StepRecord,
    state: FlowState,
    cfg: FlowConfig,
    digest: str,
    save: Callable[[], None],
) -> FlowState:
    for art in step.writes:  # what the step writes now, not what an older run left
        state.artifacts.pop(art, None)
        state.digests.pop(art, None)
    before = dict(state.digests)
    rec.status, rec.digest, rec.started = "running", digest, _now()
    rec.finished = rec.error = None
    rec.seconds, rec.reused, rec.results = None, False, None
    rec.reads = {a: state.digests[a] for a in step.reads}
    rec.artifacts, rec.artifact_digests = {}, {}
    save()
    log.info("step %s: running", step.name)
    t0 = time.perf_counter()
    try:
        state = step.fn(state, cfg)
    except BaseException as err:
        rec.status, rec.seconds = "failed", round(time.perf_counter() - t0, 3)
        rec.finished, rec.error = _now(), f"{type(err).__name__}: {err}"
        save()
        log.error("step %s failed after %.1f s: %s", step.name, rec.seconds, rec.error)
        raise
    new = [a for a, d in state.digests.items() if before.get(a) != d]
    undeclared = [a for a in new if a not in step.writes]
    if undeclared:  # the order of the flow relies on the declarations
        raise RuntimeError(
            f"step {step.name!r} wrote the artifact(s) {', '.join(undeclared)} without "
            f"declaring them in Step.writes"
        )
    rec.status, rec.seconds = "done", round(time.perf_counter() - t0, 3)
    rec.finished = _now()
    rec.artifacts = {a: state.artifacts[a] for a in new}
    rec.artifact_digests = {a: state.digests[a] for a in new}
    rec.results = state.results.get(step.name)
    log.info("step %s: done in %.1f s", step.name, rec.seconds)
    return state


def _mark_stale(changed: set[str], later: list[Step], records: list[StepRecord]) -> None:
    """Mark the done steps after ``to_step`` that read (directly or not) a changed artifact."""
    changed = set(changed)
    for step, rec in zip(later, records, strict=True):
        if any(a in changed for a in step.reads):
            changed.update(step.writes)
            if rec.status == "done":
                rec.status = "stale"


def _usable(rec: StepRecord, digest: str, run_dir: Path) -> bool:
    return (
        rec.status == "done"
        and rec.digest == digest
        and all((run_dir / p).exists() for p in rec.artifacts.values())
    )


def _restore(state: FlowState, rec: StepRecord) -> None:
    state.artifacts.update(rec.artifacts)
    state.digests.update(rec.artifact_digests)
    if rec.results is not None:
        state.results[rec.name] = rec.results


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextlib.contextmanager
def _exclusive(run_dir: Path) -> Iterator[None]:
    """Hold ``run_dir/.flow.lock`` so two runs never write one run folder at once."""
    with (run_dir / LOCK_FILE).open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CodesignError(
                f"another flow run is using {run_dir}; wait for it to finish, or pass "
                f"--out to run elsewhere"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def _log_to(path: Path) -> Iterator[None]:
    """Copy log records (INFO and up, third-party warnings too) into ``path`` during the flow."""
    logger = logging.getLogger()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    old_level = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        handler.close()
