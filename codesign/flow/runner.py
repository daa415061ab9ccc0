"""The flow runner: run an ordered list of named steps, record them, resume after a kill.

A flow is data: a list of :class:`Step` (name, function, the config sections it reads).
A step function has the signature ``step_x(state, cfg) -> state``; it writes its outputs
into the run folder (atomically), registers them with :meth:`FlowState.add_artifact`, and
puts a small JSON summary into ``state.results[step name]``.

The runner:

* creates the run folder and writes ``config.yaml`` (the resolved config) and ``flow.log``;
* keeps ``steps.json`` up to date: per step its status (``running``, ``done``, ``failed``,
  ``stale``), seconds, config digest, artifacts and results, rewritten atomically after
  every change;
* skips a step that is ``done`` when its digest (the config sections it reads, the seed and
  the digests of the steps it reads from, ``Step.after``) is unchanged and its artifacts
  exist. A step killed mid-way is left ``running`` in ``steps.json`` and simply runs again.
  When a step runs, every step that reads from it (directly or not) runs too, and ones
  beyond ``to_step`` are marked ``stale``;
* honours ``run.from_step`` (re-run from there; earlier steps must have usable outputs) and
  ``run.to_step`` (stop after it).

Progress goes to an optional callback ``progress(task, completed, total)``; the CLI turns it
into rich progress bars. Nothing here prints.

Example::

    from codesign.flow.steps import STEPS
    result = run_flow(load_flow_config(Path("flows/quickstart.yaml")), STEPS)
    result.state.results["evaluate"]["clean_accuracy"]
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codesign.errors import CodesignError, ConfigError
from codesign.flow.config import FlowConfig, select_steps, write_resolved_config
from codesign.io import atomic_write_json
from codesign.runs import RunKind, claim_out_dir

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, int, int], None]
"""``progress(task, completed, total)``: a task label, units done so far, units in all."""

STEPS_FILE = "steps.json"
CONFIG_FILE = "config.yaml"
LOG_FILE = "flow.log"
LOCK_FILE = ".flow.lock"
# Bump when the digest recipe changes, so old run folders are not mistaken for current ones.
_DIGEST_VERSION = 1


@dataclass
class FlowState:
    """What steps hand on to each other.

    Attributes:
        run_dir: The run folder; every artifact lives under it.
        artifacts: Artifact name -> path relative to ``run_dir`` (e.g. ``"checkpoint"``).
        results: Step name -> a small JSON-able summary of what the step found.
        progress: Progress callback, or ``None``.
    """

    run_dir: Path
    artifacts: dict[str, str] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    progress: ProgressFn | None = None

    def path(self, name: str) -> Path:
        """Absolute path of artifact ``name``.

        Raises:
            CodesignError: No step has produced the artifact.
        """
        if name not in self.artifacts:
            raise CodesignError(
                f"no {name!r} artifact in {self.run_dir}; run the step that makes it first"
            )
        return self.run_dir / self.artifacts[name]

    def add_artifact(self, name: str, path: Path) -> Path:
        """Register ``path`` (inside ``run_dir``) as artifact ``name`` and return it."""
        self.artifacts[name] = Path(path).resolve().relative_to(self.run_dir.resolve()).as_posix()
        return Path(path)

    def report(self, task: str, completed: int, total: int) -> None:
        """Forward progress to the callback, if there is one."""
        if self.progress is not None:
            self.progress(task, completed, total)


StepFn = Callable[[FlowState, FlowConfig], FlowState]


@dataclass(frozen=True)
class Step:
    """One named step of a flow.

    Attributes:
        name: Step name, as written in ``run.steps`` and ``--from-step``.
        fn: ``fn(state, cfg) -> state``.
        sections: Config sections the step reads; a change in one of them re-runs the step.
        after: Steps whose outputs this step reads. They must come earlier in the flow, and
            when one of them re-runs, so does this step. ``None`` means the step just before
            it in the flow (a linear chain).
        description: One line for ``--help`` texts and progress bars.
    """

    name: str
    fn: StepFn
    sections: tuple[str, ...] = ()
    after: tuple[str, ...] | None = None
    description: str = ""


def step_inputs(steps: list[Step]) -> dict[str, tuple[str, ...]]:
    """The steps each step of a flow reads from (its ``after``, or the one before it).

    Raises:
        ConfigError: A step reads from a step that is not earlier in the flow.
    """
    names = [s.name for s in steps]
    out: dict[str, tuple[str, ...]] = {}
    for i, step in enumerate(steps):
        deps = step.after if step.after is not None else tuple(names[i - 1 : i])
        for dep in deps:
            if dep not in names[:i]:
                raise ConfigError(
                    f"step {step.name!r} needs step {dep!r} earlier in run.steps; "
                    f"add {dep!r} before {step.name!r}"
                )
        out[step.name] = deps
    return out


@dataclass
class StepRecord:
    """One entry of ``steps.json``."""

    name: str
    status: str = "pending"  # pending | running | done | failed | stale
    digest: str = ""
    seconds: float | None = None
    started: str | None = None
    finished: str | None = None
    reused: bool = False
    artifacts: dict[str, str] = field(default_factory=dict)
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
        records: One record per step of the flow, in order.
        seconds: Wall time of this invocation.
    """

    run_dir: Path
    state: FlowState
    records: list[StepRecord]
    seconds: float

    def record(self, name: str) -> StepRecord:
        """The record of step ``name``."""
        return next(r for r in self.records if r.name == name)


def step_digests(cfg: FlowConfig, steps: list[Step]) -> dict[str, str]:
    """Digest per step: its config sections, the seed and the digests of the steps it reads."""
    inputs = step_inputs(steps)
    out: dict[str, str] = {}
    for step in steps:
        payload = {
            "v": _DIGEST_VERSION,
            "step": step.name,
            "inputs": {dep: out[dep] for dep in inputs[step.name]},
            "seed": cfg.run.seed,
            "sections": {s: cfg.section_dict(s) for s in step.sections},
        }
        blob = json.dumps(payload, sort_keys=True, default=str).encode()
        out[step.name] = hashlib.sha256(blob).hexdigest()[:16]
    return out


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
        ConfigError: A step name is unknown, or ``from_step`` needs earlier outputs that
            the run folder does not hold.
        OutputPathError: The run folder is not this flow's to write (:mod:`codesign.runs`).
        Exception: Whatever a step raised; its record says ``failed`` with the message.
    """
    t_flow = time.perf_counter()
    unknown = [n for n in cfg.run.steps if n not in registry]
    if unknown:
        raise ConfigError(f"unknown step {unknown[0]!r}; known steps: {', '.join(registry)}")
    steps = [registry[n] for n in cfg.run.steps]
    selected = set(select_steps(cfg.run.steps, cfg.run.from_step, cfg.run.to_step))
    last = max(i for i, s in enumerate(steps) if s.name in selected)

    run_dir = cfg.run.resolved_out_dir().resolve()
    out = claim_out_dir(run_dir, RunKind.FLOW, force=force)
    inputs = step_inputs(steps)
    digests = step_digests(cfg, steps)
    old = load_records(run_dir)
    records = [old.get(s.name) or StepRecord(name=s.name, digest=digests[s.name]) for s in steps]
    for rec in records:
        rec.reused = False  # per invocation
    needed = _upstream(selected, inputs)  # steps before from_step whose outputs are read
    state = FlowState(run_dir=run_dir, progress=progress)

    def save() -> None:
        atomic_write_json(
            run_dir / STEPS_FILE,
            {
                "flow": cfg.run.name,
                "source": str(cfg.source) if cfg.source else None,
                "updated": _now(),
                "steps": [r.__dict__ for r in records],
            },
        )

    out.prepare()
    try:
        with _exclusive(run_dir), _log_to(run_dir / LOG_FILE):
            write_resolved_config(cfg.with_overrides(out_dir=run_dir), run_dir / CONFIG_FILE)
            log.info("flow %s -> %s", cfg.run.name, run_dir)
            ran: set[str] = set()  # steps run in this invocation
            state.report("steps", 0, last + 1)
            for i, (step, rec) in enumerate(zip(steps, records, strict=True)):
                if i > last:
                    break
                usable = _usable(rec, digests[step.name], run_dir)
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
                inputs_rerun = any(dep in ran for dep in inputs[step.name])
                if usable and not inputs_rerun and cfg.run.from_step is None:
                    _restore(state, rec)
                    rec.reused = True
                    log.info("step %s: done before with this config, skipped", step.name)
                    state.report("steps", i + 1, last + 1)
                    save()
                    continue
                state = _run_step(step, rec, state, cfg, digests[step.name], save)
                ran.add(step.name)
                _mark_stale(step.name, steps[i + 1 :], records[i + 1 :], inputs)
                save()
                state.report("steps", i + 1, last + 1)
            result = FlowResult(run_dir, state, records, time.perf_counter() - t_flow)
            if finish is not None:
                finish(result)
    except BaseException:
        out.abandon(scratch=frozenset({LOCK_FILE, CONFIG_FILE, LOG_FILE}))  # nothing ran
        raise
    return result


def _run_step(
    step: Step,
    rec: StepRecord,
    state: FlowState,
    cfg: FlowConfig,
    digest: str,
    save: Callable[[], None],
) -> FlowState:
    before = dict(state.artifacts)
    rec.status, rec.digest, rec.started = "running", digest, _now()
    rec.finished = rec.error = None
    rec.seconds, rec.reused, rec.results, rec.artifacts = None, False, None, {}
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
    rec.status, rec.seconds = "done", round(time.perf_counter() - t0, 3)
    rec.finished = _now()
    rec.artifacts = {k: v for k, v in state.artifacts.items() if before.get(k) != v}
    rec.results = state.results.get(step.name)
    log.info("step %s: done in %.1f s", step.name, rec.seconds)
    return state


def _upstream(names: set[str], inputs: dict[str, tuple[str, ...]]) -> set[str]:
    """All steps that ``names`` read from, directly or not."""
    out: set[str] = set()
    todo = [dep for n in names for dep in inputs[n]]
    while todo:
        dep = todo.pop()
        if dep not in out:
            out.add(dep)
            todo.extend(inputs[dep])
    return out


def _mark_stale(
    name: str, later: list[Step], records: list[StepRecord], inputs: dict[str, tuple[str, ...]]
) -> None:
    """Mark the done steps that read (directly or not) from re-run step ``name`` as stale."""
    changed = {name}
    for step, rec in zip(later, records, strict=True):
        if any(dep in changed for dep in inputs[step.name]):
            changed.add(step.name)
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
