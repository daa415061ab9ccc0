"""A tiny compiled design for the synthesis tests, built once per session.

The design goes through the project's own path: ``codesign.models`` (build_cnn,
export_qonnx) then ``codesign.finn.compile_model`` for a Pynq-Z1 (xc7). It is one stride-2
3x3 conv stage (4 channels, 8x8 input) and a classifier, W4A4 with 4-bit input: 13 RTL nodes
(2 MVAU_rtl, 2 Thresholding_rtl, FMPadding, SWG, 7 FIFOs). Synthesis tests pick a few small
consecutive nodes of it to stay within the test-time budget.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codesign.settings import Settings


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from codesign.finn import CompileConfig, compile_model
    from codesign.models.bits import BitConfig
    from codesign.models.cnn import CnnArch, StageSpec, build_cnn
    from codesign.models.export import export_qonnx

    root = tmp_path_factory.mktemp("synth_design")
    torch.manual_seed(0)
    arch = CnnArch(stages=(StageSpec(width=4, kernel=3, stride=2),), num_classes=4, input_size=8)
    model = build_cnn(arch, BitConfig.uniform(arch.n_layers, 4, 4, input_bits=4))
    qonnx = export_qonnx(model, root / "qonnx")
    result = compile_model(qonnx, CompileConfig(board="pynq-z1", fps=100_000), root / "run")
    return result.run_dir


@pytest.fixture(scope="session")
def synth_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings with a session-private cache, so the first synthesis really runs Yosys."""
    cache = tmp_path_factory.mktemp("cache")
    return Settings.from_env({**os.environ, "CODESIGN_CACHE": str(cache)})
