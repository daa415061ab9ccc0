"""Shared test set-up: tests that need an external tool are skipped, with the fix, without it."""

from __future__ import annotations

import pytest

from codesign.settings import Settings
from codesign.tools import TOOLS, find_tool

_MARKER_TOOL = {"verilator": "verilator", "yosys": "yosys", "vivado": "vivado"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    settings = Settings.from_env()
    missing = {m: t for m, t in _MARKER_TOOL.items() if find_tool(t, settings) is None}
    for item in items:
        for marker, tool in missing.items():
            if marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=f"{tool} not found: {TOOLS[tool].fix}"))
