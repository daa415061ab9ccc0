"""Fixtures of the sweep tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from sweep_helpers import write_sweep


@pytest.fixture
def tiny_sweep(tmp_path: Path):  # noqa: ANN201
    """``tiny_sweep(axes, **kw) -> sweep file`` in ``tmp_path``."""

    def make(axes: str, **kw: str) -> Path:
        return write_sweep(tmp_path, axes, **kw)

    return make
