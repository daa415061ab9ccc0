"""Shared test set-up: tests that need an external tool are skipped, with the fix, without it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
