"""The generic parts of a flow: steps, the state they hand on, ordering and artifact digests.

This module imports nothing else from :mod:`codesign.flow`, so the config, the runner and
every step module can import it without a cycle.

A :class:`Step` declares the *artifacts* it reads and writes (``"checkpoint"``, ``"qonnx"``,
``"compiled"``, ``"fifo_depths"``...), not the steps it follows. :func:`order_steps` puts a
flow's steps in an order where every artifact is written before it is read, so a second
trainer (``train_dqmq`` writing ``checkpoint``) or a search that writes ``qonnx`` slots in
without touching the steps that read those artifacts.

Artifact digests tie the runs together: when a step writes an artifact, its digest is the
SHA-256 of the file's bytes (and of the files it names as parts), or a fresh token for a
folder. A step's own digest covers its name, the config sections it reads, the seed and the
digests of the artifacts it reads, so a re-run producer that writes different bytes makes
its readers stale, and one that writes the same bytes does not.

Example::

    Step("export", step_export, reads=("checkpoint",), writes=("qonnx", "qonnx_data"))
    order_steps([export, train])      # -> [train, export]
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codesign.errors import CodesignError, ConfigError

ProgressFn = Callable[[str, int, int], None]
"""``progress(task, completed, total)``: a task label, units done so far, units in all."""

# Bump when the digest recipe changes, so old run folders are not mistaken for current ones.
DIGEST_VERSION = 2
_CHUNK = 1 << 20


@dataclass
class FlowState:
    """What steps hand on to each other.

    Attributes:
        run_dir: The run folder; every artifact lives under it.
        artifacts: Artifact name -> path relative to ``run_dir`` (e.g. ``"checkpoint"``).
        digests: Artifact name -> its digest (see :func:`artifact_digest`).
        results: Step name -> a small JSON-able summary of what the step found.
        progress: Progress callback, or ``None``.
    """

    run_dir: Path
    artifacts: dict[str, str] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    progress: ProgressFn | None = None

    def path(self, name: str) -> Path:
        """Absolute path of artifact ``name``.

        Raises:
            CodesignError: No step has produced the artifact.
        """
        if name not in self.artifacts:
            raise CodesignError(
                f"no {name!r} artifact in {self.run_dir}; run a step that writes it first"
            )
        return self.run_dir / self.artifacts[name]

    def has(self, name: str) -> bool:
        """Whether artifact ``name`` is known."""
        return name in self.artifacts

    def add_artifact(self, name: str, path: Path, *, parts: Iterable[Path] = ()) -> Path:
        """Register ``path`` (inside ``run_dir``) as artifact ``name`` and return it.

        Args:
            name: Artifact name.
            path: Its file or folder.
            parts: Further files whose bytes belong to the artifact (a QONNX model's
                external data; for a folder, the files that stand for it), so that its
                digest changes when they do.
        """
        path = Path(path)
        self.artifacts[name] = path.resolve().relative_to(self.run_dir.resolve()).as_posix()
        self.digests[name] = artifact_digest(path, parts)
        return path

    def report(self, task: str, completed: int, total: int) -> None:
        """Forward progress to the callback, if there is one."""
        if self.progress is not None:
            self.progress(task, completed, total)


StepFn = Callable[[FlowState, Any], FlowState]
"""``fn(state, cfg) -> state``; ``cfg`` is the flow's :class:`~codesign.flow.config.FlowConfig`."""


@dataclass(frozen=True)
class Step:
    """One named step of a flow.

    Attributes:
        name: Step name, as written in ``run.steps`` and ``--from-step``.
        fn: ``fn(state, cfg) -> state``.
        sections: Config sections the step reads; a change in one of them re-runs the step.
        reads: Artifacts the step reads (``state.path(name)``). A step that writes one of
            them runs first, and a change of its digest re-runs this step.
        writes: Artifacts the step registers with :meth:`FlowState.add_artifact`.
        description: One line for ``--help`` texts and progress bars.
    """

    name: str
    fn: StepFn
    sections: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    description: str = ""


def order_steps(
    steps: Sequence[Step], available: Iterable[str] = (), *, strict: bool = True
) -> list[Step]:
    """Order ``steps`` so that every artifact is written before a step reads it.

    Steps keep their listed order where the artifacts allow it (a stable topological sort).

    Args:
        steps: The flow's steps, in the order listed.
        available: Artifacts that exist before the flow starts (left by an earlier run).
        strict: Reject a step that reads an artifact neither a step of the flow writes nor
            ``available`` holds. With ``strict=False`` such reads are left for the runner.

    Raises:
        ConfigError: Two steps write one artifact, a step reads an artifact that nothing
            provides (``strict``), or the steps read each other's artifacts in a cycle.
    """
    writer: dict[str, str] = {}
    for step in steps:
        for art in step.writes:
            if art in writer:
                raise ConfigError(
                    f"steps {writer[art]!r} and {step.name!r} both write the {art!r} "
                    f"artifact; keep one of them in run.steps"
                )
            writer[art] = step.name
    have = set(available)
    if strict:
        for step in steps:
            for art in step.reads:
                if art not in writer and art not in have:
                    raise ConfigError(missing_artifact_message(step.name, art))
    have |= {art for step in steps for art in step.reads if art not in writer}
    todo = list(steps)
    out: list[Step] = []
    while todo:
        ready = next((s for s in todo if all(a in have for a in s.reads)), None)
        if ready is None:
            names = ", ".join(s.name for s in todo)
            raise ConfigError(
                f"steps {names} read each other's artifacts in a cycle; "
                f"drop one of them from run.steps"
            )
        todo.remove(ready)
        out.append(ready)
        have.update(ready.writes)
    return out


def missing_artifact_message(step: str, artifact: str, registry: Iterable[Step] = ()) -> str:
    """The one-line error for a step whose input artifact nothing provides."""
    writers = [s.name for s in registry if artifact in s.writes]
    hint = f"add a step that writes it ({', '.join(writers)})" if writers else "add a step"
    return (
        f"step {step!r} reads the {artifact!r} artifact, but no step of this flow writes it "
        f"and the run folder holds none from an earlier run; {hint} to run.steps before "
        f"{step!r}"
    )


def producers(steps: Sequence[Step]) -> dict[str, tuple[str, ...]]:
    """Step name -> the steps of the flow that write what it reads."""
    writer = {art: s.name for s in steps for art in s.writes}
    return {s.name: tuple(dict.fromkeys(writer[a] for a in s.reads if a in writer)) for s in steps}


def upstream(names: Iterable[str], inputs: Mapping[str, tuple[str, ...]]) -> set[str]:
    """All steps that ``names`` read from, directly or not (``inputs`` from :func:`producers`)."""
    out: set[str] = set()
    todo = [dep for n in names for dep in inputs[n]]
    while todo:
        dep = todo.pop()
        if dep not in out:
            out.add(dep)
            todo.extend(inputs[dep])
    return out


def select_steps(
    steps: list[str],
    from_step: str | None,
    to_step: str | None,
    *,
    option_prefix: str = "run.",
) -> list[str]:
    """Return the slice of ``steps`` from ``from_step`` to ``to_step`` (inclusive).

    Args:
        steps: The flow's steps in order.
        from_step: First step to run, or ``None`` for the first one.
        to_step: Last step to run, or ``None`` for the last one.
        option_prefix: How the options are spelt in messages (``run.`` in YAML, ``--`` on
            the command line).

    Raises:
        ConfigError: A name is not one of ``steps``, or ``from_step`` comes after ``to_step``.
    """
    sep = "_" if option_prefix == "run." else "-"
    for option, name in (("from", from_step), ("to", to_step)):
        if name is not None and name not in steps:
            raise ConfigError(
                f"unknown step {name!r} for {option_prefix}{option}{sep}step; "
                f"this flow's steps are: {', '.join(steps)}"
            )
    first = steps.index(from_step) if from_step is not None else 0
    last = steps.index(to_step) if to_step is not None else len(steps) - 1
    if first > last:
        raise ConfigError(
            f"{option_prefix}from{sep}step {from_step!r} comes after "
            f"{option_prefix}to{sep}step {to_step!r}; steps run in the order: {', '.join(steps)}"
        )
    return steps[first : last + 1]


def step_digest(
    step: Step, seed: int, sections: Mapping[str, Any], read_digests: Mapping[str, str]
) -> str:
    """Digest of one step run: its name, sections, the seed and the digests of its inputs.

    Args:
        step: The step.
        seed: The flow's seed.
        sections: Section name -> its plain-data value, for ``step.sections``.
        read_digests: Artifact name -> digest, for ``step.reads``.
    """
    payload = {
        "v": DIGEST_VERSION,
        "step": step.name,
        "reads": {a: read_digests[a] for a in step.reads},
        "seed": seed,
        "sections": {s: sections[s] for s in step.sections},
    }
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def artifact_digest(path: Path, parts: Iterable[Path] = ()) -> str:
    """Digest of an artifact just written: the bytes of its files, or a fresh token.

    A file's digest is the SHA-256 of its bytes and its parts' bytes, so a producer that
    re-runs and writes the same bytes leaves its readers valid. A folder's digest is that of
    the ``parts`` that stand for it (a compile run folder's ``compiled.onnx``: later steps
    write further files into the folder); a folder without parts gets a fresh random token
    each time it is produced.
    """
    path = Path(path)
    files = [path, *parts] if path.is_file() else list(parts)
    if not files:
        return "dir-" + uuid.uuid4().hex[:16]
    h = hashlib.sha256()
    for p in files:
        h.update(Path(p).name.encode() + b"\0")
        with Path(p).open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
    return h.hexdigest()[:16]


def registry_of(steps: Iterable[Step]) -> dict[str, Step]:
    """Step name -> step, for a list of steps (a registry for :func:`run_flow`)."""
    return {s.name: s for s in steps}
