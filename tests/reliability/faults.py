"""Helpers of the fault-injection suite: run the CLI in-process, snapshot a folder tree.

Every test runs in ``tmp_path/work``, a folder of user files, with copies of the inputs it
needs, so that a snapshot of ``tmp_path`` before and after a command shows every file the
command created, changed or removed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from codesign.cli.main import run_cli

# A flow run folder's flow (train -> evaluate -> export -> compile), tiny.
TINY_FLOW = """
run:
  name: tiny
  steps: [train, evaluate, export, compile]
data:
  dataset: fashion_mnist
  n_train: 64
  n_test: 32
  batch_size: 32
model:
  arch:  # big enough that its compile takes seconds (the signal tests kill it mid-way)
    stages: [{width: 32, stride: 2}, {width: 32, stride: 2}]
  weight_bits: 4
  act_bits: 4
train:
  epochs: 1
evaluate:
  corruptions: [gaussian_noise]
  severities: [2]
compile:
  board: pynq-z2
  fps: 10000
"""

USER_FILES = {
    "a.txt": "my notes\n",
    "config.yaml": "mine: true\n",  # a name a compile also writes
    "data/b.csv": "x,y\n1,2\n",
    "logs/todo.md": "- keep me\n",  # a folder name a compile also writes
}


@dataclass(frozen=True)
class Outcome:
    """What one command did."""

    code: int
    stdout: str
    stderr: str

    @property
    def errors(self) -> list[str]:
        """The ``error:`` lines on stderr."""
        return [ln for ln in self.stderr.splitlines() if ln.startswith("error:")]


def invoke(args: list[str], cwd: Path) -> Outcome:
    """Run ``codesign ARGS`` in-process through the console script's error boundary."""
    old = Path.cwd()
    os.chdir(cwd)
    try:
        with CliRunner().isolation() as (out, err, _):
            code = run_cli(list(args))
    finally:
        os.chdir(old)
    return Outcome(code, out.getvalue().decode(), err.getvalue().decode())


def snapshot(root: Path) -> dict[str, str]:
    """Relative path -> content digest (files, links) or ``"dir"`` for every entry under root."""
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[rel] = "link:" + str(path.readlink())
        elif path.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def changes(before: dict[str, str], after: dict[str, str]) -> dict[str, list[str]]:
    """Created, changed and removed paths between two snapshots."""
    return {
        "created": sorted(set(after) - set(before)),
        "changed": sorted(p for p in set(before) & set(after) if before[p] != after[p]),
        "removed": sorted(set(before) - set(after)),
    }


def write_user_files(folder: Path) -> None:
    """A user's own files, some with names that codesign also writes."""
    for rel, text in USER_FILES.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@dataclass(frozen=True)
class Inputs:
    """Tiny inputs shared by the session (copied into each sandbox before use)."""

    root: Path
    onnx_dir: Path  # model.onnx + model.onnx.data
    checkpoint: Path
    compiled: Path  # a compile run folder
    flow_run: Path  # a flow run folder written by `codesign run` (train..compile)
    flow_file: Path


def copy_into(src: Path, dst: Path) -> Path:
    """Copy a file or folder (symlinks as links) and return the copy."""
    if src.is_dir():
        shutil.copytree(src, dst, symlinks=True)
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    return dst
