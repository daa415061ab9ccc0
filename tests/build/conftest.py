"""A tiny compiled design for the build tests, compiled once per session.

The tiny CNN the synthesis tests also use (``compile_tiny_cnn`` in tests/conftest.py), here
compiled for the Pynq-Z2: one stride-2 3x3 conv stage and a classifier, W4A4, all RTL nodes
with FIFOs between them.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def compiled_run(compile_tiny_cnn: Callable[[str], Path]) -> Path:
    """A finished compile run folder (read-only: copy it with ``run_copy`` to modify)."""
    return compile_tiny_cnn("pynq-z2")


@pytest.fixture
def run_copy(compiled_run: Path, tmp_path: Path) -> Path:
    """A private copy of the compiled run (tests add folding configs and build folders)."""
    dst = tmp_path / "run"
    shutil.copytree(compiled_run, dst, symlinks=True)
    return dst
