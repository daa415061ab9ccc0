"""A tiny compiled design for the synthesis tests, built once per session.

It is the tiny CNN the build tests also use (``compile_tiny_cnn`` in tests/conftest.py),
compiled for a Pynq-Z1 (xc7): one stride-2 3x3 conv stage (4 channels, 8x8 input) and a
classifier, W4A4 with 4-bit input: 13 RTL nodes (2 MVAU_rtl, 2 Thresholding_rtl, FMPadding,
SWG, 7 FIFOs). Synthesis tests pick a few small consecutive nodes of it to stay within the
test-time budget.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from codesign.settings import Settings


@pytest.fixture(scope="session")
def tiny_run(compile_tiny_cnn: Callable[[str], Path]) -> Path:
    return compile_tiny_cnn("pynq-z1")


@pytest.fixture(scope="session")
def synth_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings with a session-private cache, so the first synthesis really runs Yosys."""
    cache = tmp_path_factory.mktemp("cache")
    return Settings.from_env({**os.environ, "CODESIGN_CACHE": str(cache)})
