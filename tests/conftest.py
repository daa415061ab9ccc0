"""Shared test set-up.

* Tests that need an external tool are skipped, with the fix, without it.
* The session uses its own cache folder for Verilator builds and Yosys results, never the
  user's ``~/.cache/codesign``: ``<pytest basetemp>/codesign-cache``, one folder for the
  whole session so that tests compiling the same design share its builds. The first build
  of each design in a session is therefore cold. ``CODESIGN_TEST_CACHE=DIR`` keeps a cache
  between sessions (a developer's quick loop); CI should leave it unset.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from codesign.settings import Settings, use_settings
from codesign.tools import TOOLS, find_tool

_MARKER_TOOL = {"verilator": "verilator", "yosys": "yosys", "vivado": "vivado"}
# Session fixtures that compile designs with FINN: a test using one is a compile test.
COMPILE_FIXTURES = frozenset(
    {"compiled", "compile_tiny_cnn", "compiled_run", "run_copy", "tiny_run", "tiny_compile"}
    | {"design_w4a4", "design_w2a2", "design_mixed", "w4a4"}
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests whose tool is missing (with the fix); mark tool and compile tests slow.

    A test marked ``verilator`` or ``yosys``, or using a compile fixture
    (:data:`COMPILE_FIXTURES`), is ``slow`` too, so ``-m "not slow"`` stays a quick loop
    however a new test is written. Tests that compile inside their body carry the marker
    themselves.
    """
    settings = Settings.from_env()
    missing = {m: t for m, t in _MARKER_TOOL.items() if find_tool(t, settings) is None}
    for item in items:
        uses = set(getattr(item, "fixturenames", ()))
        if "slow" not in item.keywords and (
            "verilator" in item.keywords or "yosys" in item.keywords or uses & COMPILE_FIXTURES
        ):
            item.add_marker(pytest.mark.slow)
        for marker, tool in missing.items():
            if marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=f"{tool} not found: {TOOLS[tool].fix}"))


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point ``CODESIGN_CACHE`` (and the current settings) at the session's cache folder."""
    override = os.environ.get("CODESIGN_TEST_CACHE")
    cache = Path(override) if override else tmp_path_factory.getbasetemp() / "codesign-cache"
    cache.mkdir(parents=True, exist_ok=True)
    patch = pytest.MonkeyPatch()
    patch.setenv("CODESIGN_CACHE", str(cache))
    use_settings(Settings.from_env())
    yield cache
    patch.undo()
    use_settings(Settings.from_env())


@pytest.fixture(scope="session")
def compile_tiny_cnn(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Compile the tiny CNN the build and synthesis tests share, once per board and session.

    The project's own path: ``codesign.models`` (build_cnn, export_qonnx) then
    ``codesign.finn.compile_model``. One stride-2 3x3 conv stage (4 channels, 8x8 input) and
    a classifier, W4A4 with 4-bit input: 13 RTL nodes (2 MVAU_rtl, 2 Thresholding_rtl,
    FMPadding, SWG, 7 FIFOs). Returns ``compile(board) -> run folder``.
    """
    runs: dict[str, Path] = {}

    def compile_for(board: str) -> Path:
        if board not in runs:
            import torch

            from codesign.finn import CompileConfig, compile_model
            from codesign.models.bits import BitConfig
            from codesign.models.cnn import CnnArch, StageSpec, build_cnn
            from codesign.models.export import export_qonnx

            root = tmp_path_factory.mktemp(f"tiny_cnn_{board}")
            torch.manual_seed(0)
            arch = CnnArch(
                stages=(StageSpec(width=4, kernel=3, stride=2),), num_classes=4, input_size=8
            )
            model = build_cnn(arch, BitConfig.uniform(arch.n_layers, 4, 4, input_bits=4))
            qonnx = export_qonnx(model, root / "qonnx")
            cfg = CompileConfig(board=board, fps=100_000)
            runs[board] = compile_model(qonnx, cfg, root / "run").run_dir
        return runs[board]

    return compile_for
