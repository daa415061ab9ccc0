"""A tiny compiled design for the build tests, compiled once per session.

Same path as the synthesis tests: ``codesign.models`` (build_cnn, export_qonnx) then
``codesign.finn.compile_model``, here for the Pynq-Z2: one stride-2 3x3 conv stage and a
classifier, W4A4, all RTL nodes with FIFOs between them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def compiled_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished compile run folder (read-only: copy it with ``run_copy`` to modify)."""
    import torch

    from codesign.finn import CompileConfig, compile_model
    from codesign.models.bits import BitConfig
    from codesign.models.cnn import CnnArch, StageSpec, build_cnn
    from codesign.models.export import export_qonnx

    root = tmp_path_factory.mktemp("build_design")
    torch.manual_seed(0)
    arch = CnnArch(stages=(StageSpec(width=4, kernel=3, stride=2),), num_classes=4, input_size=8)
    model = build_cnn(arch, BitConfig.uniform(arch.n_layers, 4, 4, input_bits=4))
    qonnx = export_qonnx(model, root / "qonnx")
    result = compile_model(qonnx, CompileConfig(board="pynq-z2", fps=100_000), root / "run")
    return result.run_dir


@pytest.fixture
def run_copy(compiled_run: Path, tmp_path: Path) -> Path:
    """A private copy of the compiled run (tests add folding configs and build folders)."""
    dst = tmp_path / "run"
    shutil.copytree(compiled_run, dst, symlinks=True)
    return dst
