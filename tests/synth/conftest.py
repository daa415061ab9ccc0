"""A tiny compiled design for the synthesis tests, built once per session.

It is the tiny CNN the build tests also use (``compile_tiny_cnn`` in tests/conftest.py),
compiled for a Pynq-Z1 (xc7): one stride-2 3x3 conv stage (4 channels, 8x8 input) and a
classifier, W4A4 with 4-bit input: 13 RTL nodes (2 MVAU_rtl, 2 Thresholding_rtl, FMPadding,
SWG, 7 FIFOs). Synthesis tests pick a few small consecutive nodes of it to stay within the
test-time budget.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from codesign.settings import Settings


@pytest.fixture(scope="session")
def tiny_compile(compile_tiny_cnn: Callable[[str], Path]) -> Path:
    """The session's pynq-z1 compile of the tiny CNN (read-only)."""
    return compile_tiny_cnn("pynq-z1")


@pytest.fixture(scope="module")
def tiny_run(tiny_compile: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This module's own copy of the compile: synthesis writes RUN/synth/ and RUN/logs/.

    The tests of one module share it on purpose (the module's ``report`` synthesizes once,
    the others read what it wrote); the session's compile stays as compiled.
    """
    dst = tmp_path_factory.mktemp("synth_run") / "run"
    shutil.copytree(tiny_compile, dst, symlinks=True)
    return dst


@pytest.fixture(scope="session")
def synth_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings with a session-private cache, so the first synthesis really runs Yosys."""
    cache = tmp_path_factory.mktemp("cache")
    return Settings.from_env({**os.environ, "CODESIGN_CACHE": str(cache)})
