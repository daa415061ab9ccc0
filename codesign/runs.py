"""Run folders: which folder a command may write, replace or resume, and never a user's files.

Every folder a codesign command creates carries a marker file, :data:`MARKER_FILE`
(``.codesign-run.json``), that names its :class:`RunKind`::

    {"kind": "compile", "created": "2026-11-27T07:00:00+00:00", "foreign": []}

``foreign`` lists the top-level names that were in the folder before codesign first wrote
there (``--force`` on a folder of user files); they are never removed or overwritten.

The rule for an output folder (``--out``), checked by :func:`claim_out_dir` before any work:

* missing, or an empty folder: created;
* a run folder of the same kind (its marker, or the layout an older codesign wrote):
  replaced (compile) or resumed (run); top-level entries codesign did not write are kept;
* anything else (a folder of user files, another kind of run folder, a file) is refused
  with one :class:`~codesign.errors.OutputPathError` line that names ``--force``;
* ``--force`` writes beside a folder's user files, but is refused when an output would
  overwrite one of them, and never writes into another kind of run folder.

API for commands that write a folder (compile, run, build today; sweep, train, calibrate,
search to come), in two shapes:

* in place (``run``, ``build``: resumable, files written one by one)::

      out = claim_out_dir(path, RunKind.FLOW, force=force)
      out.prepare()                  # mkdir (parents too) + marker
      try:
          ...write under out.path...
      except BaseException:
          out.abandon()              # removes what prepare() created if nothing else came
          raise

* replaced whole (``compile``: built in a hidden sibling, swapped in only on success, so a
  killed run leaves the previous folder as it was)::

      out = claim_out_dir(path, RunKind.COMPILE, force=force)
      work = out.work_dir()          # hidden temp sibling .NAME.<pid>.XXXX.tmp
      try:
          ...write under work...
          out.install(work)          # swap in; user entries are carried over
      except BaseException:
          out.discard(work)          # removes work (and parents it created)
          raise

A command that reads a run folder of one kind finds it with :func:`find_run_dir` (a flow
run folder holds its compile folder in ``compile/``). Output *files* given by the user
(``--json``, ``-o``) are checked with :func:`check_output_file` before the work starts, so
a bad path fails before anything is written. A new kind adds a :class:`RunKind` member and
its top-level output names to :data:`OUTPUTS`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from codesign.errors import OutputPathError
from codesign.io import atomic_write_json

log = logging.getLogger(__name__)

MARKER_FILE = ".codesign-run.json"


class RunKind(StrEnum):
    """What wrote a run folder (the ``kind`` of its marker)."""

    COMPILE = "compile"
    FLOW = "flow"
    BUILD = "build"
    SWEEP = "sweep"
    TRAIN = "train"
    CALIBRATE = "calibrate"
    SEARCH = "search"


class Mode(StrEnum):
    """How :func:`claim_out_dir` found the folder."""

    NEW = "new"  # missing or empty: created
    SAME = "same"  # a run folder of the same kind: replaced or resumed
    FORCE = "force"  # user files, --force: written beside them


# Top-level names each kind may write (including what later commands add: simulate, synth
# and build write into a compile folder). Used to recognize folders written before the
# marker existed, and to refuse --force when an output would overwrite a user's file.
OUTPUTS: dict[RunKind, frozenset[str]] = {
    RunKind.COMPILE: frozenset(
        {
            "qonnx",
            "intermediate",
            "logs",
            "finn_build",
            "config.yaml",
            "parent.onnx",
            "compiled.onnx",
            "compiled.unsized.onnx",
            "estimates.json",
            "folding_config.json",
            "sim",
            "synth",
            "build",
        }
    ),
    RunKind.FLOW: frozenset(
        {
            ".flow.lock",
            "config.yaml",
            "steps.json",
            "flow.log",
            "train",
            "report.json",
            "qonnx",
            "compile",
            "logs",
        }
    ),
    RunKind.BUILD: frozenset(
        {
            "codesign_build.json",
            "build_config.json",
            "folding_config.json",
            "qonnx",
            "parent.onnx",
            "compiled.onnx",
            "rtl",
            "output",
            "logs",
            "measurements.json",
            "intermediate_models",
        }
    ),
}

# Where a run folder of one kind keeps a run folder of another (flow -> its compile).
_SUBFOLDER: dict[tuple[RunKind, RunKind], str] = {(RunKind.FLOW, RunKind.COMPILE): "compile"}


def read_marker(path: Path) -> dict[str, Any] | None:
    """The marker of folder ``path``, or ``None`` when it has none (or an unreadable one)."""
    try:
        data = json.loads((Path(path) / MARKER_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "kind" in data else None


def run_kind(path: Path) -> RunKind | None:
    """The kind of run folder ``path`` is, from its marker or an older codesign's layout."""
    path = Path(path)
    if not path.is_dir():
        return None
    marker = read_marker(path)
    if marker is not None:
        try:
            return RunKind(marker["kind"])
        except ValueError:
            return None
    return _legacy_kind(path)


def _legacy_kind(path: Path) -> RunKind | None:
    """Recognize run folders written before markers existed."""
    if (path / "codesign_build.json").is_file():
        return RunKind.BUILD
    if (path / ".flow.lock").is_file():  # written by flow runs only, before anything else
        return RunKind.FLOW
    if (path / "steps.json").is_file():
        try:
            data = json.loads((path / "steps.json").read_text())
        except (OSError, ValueError):
            return None
        if isinstance(data, dict) and "flow" in data and "steps" in data:
            return RunKind.FLOW
        return None
    if (path / "config.yaml").is_file() and (
        (path / "intermediate").is_dir() or (path / "logs" / "steps.json").is_file()
    ):
        return RunKind.COMPILE
    return None


def write_marker(path: Path, kind: RunKind, foreign: frozenset[str] = frozenset()) -> Path:
    """Write (or refresh) the marker of run folder ``path``."""
    old = read_marker(path) or {}
    data = {
        "kind": kind.value,
        "created": old.get("created") or datetime.now(UTC).isoformat(timespec="seconds"),
        "foreign": sorted(foreign | set(old.get("foreign") or ())),
    }
    return atomic_write_json(Path(path) / MARKER_FILE, data)


def find_run_dir(path: Path, kind: RunKind, *, what: str = "RUN") -> Path:
    """The run folder of ``kind`` that ``path`` is, or holds (a flow run's ``compile/``).

    Raises:
        OutputPathError: ``path`` is neither.

    Example:
        >>> find_run_dir(Path("runs/quickstart"), RunKind.COMPILE)  # doctest: +SKIP
        PosixPath('runs/quickstart/compile')
    """
    path = Path(path)
    if not path.is_dir():
        raise OutputPathError(f"{what} {path} is not a folder")
    found = run_kind(path)
    if found is kind:
        return path
    sub = _SUBFOLDER.get((found, kind)) if found is not None else None
    if sub is not None:
        if run_kind(path / sub) is kind:
            log.info("using %s, the %s folder of flow run %s", path / sub, kind.value, path)
            return path / sub
        raise OutputPathError(
            f"{path} is a {found.value} run folder without a {kind.value} step output "
            f"({path / sub} is missing): add `{kind.value}` to its run.steps and run it again"
        )
    found_text = f"a {found.value} run folder" if found else "not a codesign run folder"
    raise OutputPathError(
        f"{what} {path} is {found_text}; expected a {kind.value} run folder "
        f"(run `codesign {kind.value} ...` first)"
    )


@dataclass
class OutDir:
    """An output folder that :func:`claim_out_dir` accepted.

    Attributes:
        path: The folder (absolute).
        kind: The kind of run it holds.
        mode: How it was found.
        foreign: Top-level names in it that codesign did not write (kept).
        created: Folders this claim created (``abandon``/``discard`` remove them if empty).
    """

    path: Path
    kind: RunKind
    mode: Mode
    foreign: frozenset[str] = frozenset()
    created: list[Path] = field(default_factory=list)

    def prepare(self) -> Path:
        """Create the folder (and its parents) and write its marker; return the path."""
        self._mkdir(self.path)
        write_marker(self.path, self.kind, self.foreign)
        return self.path

    def abandon(self, scratch: frozenset[str] = frozenset()) -> None:
        """After a failure: remove the folders this claim created, if they hold only scratch.

        Args:
            scratch: Top-level names that are only bookkeeping (a lock, a config copy, an
                empty log); a folder with anything else in it is kept for the user to read.
        """
        if self.mode is not Mode.NEW or not self.created:
            return
        names = {p.name for p in self.path.iterdir()} if self.path.is_dir() else set()
        if names - {MARKER_FILE} - scratch:
            return
        shutil.rmtree(self.path, ignore_errors=True)
        self._remove_created_parents()

    def work_dir(self) -> Path:
        """A hidden temp sibling of the folder to build a replacement in."""
        sweep_stale_work(self.path)
        self._mkdir(self.path.parent)
        prefix = f".{self.path.name}.{os.getpid()}."
        return Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=self.path.parent))

    def install(self, work: Path) -> None:
        """Put ``work`` in place of the folder; keep every entry codesign did not write.

        Raises:
            OutputPathError: An output would overwrite an entry codesign did not write.
        """
        write_marker(work, self.kind, self.foreign)
        new = {p.name for p in work.iterdir()}
        in_place = self.mode is Mode.FORCE or self.path == Path.cwd().resolve()
        if self.mode is Mode.NEW and not in_place:
            if self.path.is_dir():
                self.path.rmdir()  # empty (claim checked; a race makes this fail, safely)
            work.rename(self.path)
            return
        keep = self._user_entries()
        clash = sorted(keep & new)
        if clash:
            raise OutputPathError(
                f"{self.path / clash[0]} was not written by codesign and would be "
                "overwritten; move it away or choose another --out"
            )
        if in_place:
            # Entry by entry: beside the user's files, or in the working folder (``--out .``),
            # which must stay the same folder for the shell that runs us.
            for name in sorted((self.own_entries() - new) | (new - {MARKER_FILE})):
                target = self.path / name
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                else:
                    target.unlink(missing_ok=True)
                if name in new:
                    (work / name).rename(target)
            (work / MARKER_FILE).replace(self.path / MARKER_FILE)
            work.rmdir()
            return
        old = self.path.with_name(f".{self.path.name}.{os.getpid()}.old")
        self.path.rename(old)
        work.rename(self.path)
        for name in sorted(keep):  # the user's files come along into the new folder
            (old / name).rename(self.path / name)
        shutil.rmtree(old, ignore_errors=True)

    def discard(self, work: Path) -> None:
        """After a failure: remove ``work`` and the parents this claim created, if empty."""
        shutil.rmtree(work, ignore_errors=True)
        self._remove_created_parents()

    def own_entries(self) -> set[str]:
        """Top-level names in the folder that codesign wrote."""
        if not self.path.is_dir():
            return set()
        return {p.name for p in self.path.iterdir()} - self._user_entries()

    def _user_entries(self) -> set[str]:
        """Top-level names in the folder that codesign did not write."""
        if not self.path.is_dir():
            return set()
        names = {p.name for p in self.path.iterdir()} - {MARKER_FILE}
        if self.mode is Mode.FORCE:
            return names
        return (names - OUTPUTS.get(self.kind, frozenset())) | (names & self.foreign)

    def _mkdir(self, path: Path) -> None:
        missing = [p for p in (path, *path.parents) if not p.exists()]
        path.mkdir(parents=True, exist_ok=True)
        self.created.extend(reversed(missing))

    def _remove_created_parents(self) -> None:
        for folder in reversed(self.created):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty


def claim_out_dir(
    path: Path, kind: RunKind, *, force: bool = False, option: str = "--out"
) -> OutDir:
    """Check that ``path`` may receive a ``kind`` run, before any work starts.

    Args:
        path: The output folder.
        kind: The kind of run to write there.
        force: Accept a folder that holds files codesign did not write (they are kept).
        option: The command-line option, named in messages.

    Returns:
        The accepted folder; nothing is created yet.

    Raises:
        OutputPathError: The folder may not be used (one line that says why and what to do).
    """
    path = Path(path).expanduser().absolute()
    _check_parent(path, option)
    if not path.exists():
        return OutDir(path, kind, Mode.NEW)
    if not path.is_dir():
        raise OutputPathError(f"{option} {path} is a file, not a folder")
    _check_writable(path, option)
    names = {p.name for p in path.iterdir()}
    if not names:
        return OutDir(path, kind, Mode.NEW)
    found = run_kind(path)
    if found is kind:
        marker = read_marker(path) or {}
        return OutDir(path, kind, Mode.SAME, frozenset(marker.get("foreign") or ()))
    if found is not None:
        raise OutputPathError(
            f"{option} {path} is a codesign {found.value} run folder, not a {kind.value} "
            f"one; choose another {option} (--force never writes into another kind of run)"
        )
    if not force:
        raise OutputPathError(
            f"{option} {path} holds files codesign did not write; choose a new or empty "
            f"folder, or pass --force to write beside them (they are kept)"
        )
    clash = sorted(names & OUTPUTS.get(kind, frozenset()))
    if clash:
        raise OutputPathError(
            f"{option} {path}: {clash[0]} was not written by codesign and a {kind.value} "
            "run would overwrite it, even with --force; choose another folder"
        )
    return OutDir(path, kind, Mode.FORCE, frozenset(names))


def check_output_file(path: Path, option: str) -> Path:
    """Check, before any work, that an output file can be written at ``path``.

    Raises:
        OutputPathError: ``path`` is a folder, or its folder cannot be created or written.
    """
    path = Path(path).expanduser().absolute()
    if path.is_dir():
        raise OutputPathError(f"{option} {path} is a folder; give a file name")
    _check_parent(path, option)
    if path.parent.is_dir():
        _check_writable(path.parent, option)
    return path


def sweep_stale_work(path: Path) -> None:
    """Remove hidden temp siblings of ``path`` left by a killed process (its pid is gone)."""
    parent = Path(path).parent
    if not parent.is_dir():
        return
    for tmp in parent.glob(f".{Path(path).name}.*"):
        parts = tmp.name[len(Path(path).name) + 2 :].split(".")
        if not (tmp.suffix in (".tmp", ".old") and parts and parts[0].isdigit()):
            continue
        pid = int(parts[0])
        if pid != os.getpid() and not _alive(pid):
            log.info("removing %s, left by a killed run (pid %d)", tmp, pid)
            shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _check_parent(path: Path, option: str) -> None:
    """The nearest existing ancestor of ``path`` must be a writable folder."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputPathError(f"{option} {path}: {parent} is a file, not a folder")
            _check_writable(parent, option, target=path)
            return


def _check_writable(folder: Path, option: str, target: Path | None = None) -> None:
    """Probe ``folder`` with a temp file (``os.access`` says yes to root on /proc)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".codesign-probe.", dir=folder)
    except OSError as err:
        why = "it takes no new files" if err.errno == errno.ENOENT else err.strerror
        raise OutputPathError(
            f"{option} {target or folder}: cannot write in {folder} ({why})"
        ) from None
    os.close(fd)
    Path(probe).unlink(missing_ok=True)
