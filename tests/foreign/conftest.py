"""Session state of the foreign-model hardware matrix."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def covered_ops() -> set[str]:
    """Op types that some test in this folder simulated and synthesized (filled by them)."""
    return set()
