"""Tiny compiled designs for the simulation tests, built once per session.

Each design goes the real way: ``codesign.models.build_cnn`` -> ``export_qonnx`` ->
``codesign.finn.compile_model`` into a session temp folder. Tests that write into a run
folder (every simulation does) take a per-test copy (``w4a4``, :func:`copy_design`).
Verilator builds are cached by plan digest under ``Settings.cache_dir`` (the session's
cache folder, see tests/conftest.py), so the copies share one build.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

# One stride-2 conv stage and the classifier: FMPadding, SWG, two MVAUs, Thresholding,
# DWCs and FIFOs: every kind of node the stitcher wires, with a short Verilator build.
_STAGE = {"width": 4, "kernel": 3, "stride": 2}
_FPS = 60_000.0  # about 1600 cycles/frame at 10 ns: the input layer (784 words) is not the
# bottleneck, so FIFO sizing has something to do


@dataclass(frozen=True)
class Design:
    run_dir: Path
    model: object  # the Brevitas QuantCNN (eval mode)


def _build(root: Path, name: str, layers: list[tuple[int, int | None]]) -> Design:
    import torch

    from codesign.finn import CompileConfig, compile_model
    from codesign.models.bits import BitConfig, LayerBits
    from codesign.models.bn_stats import randomize_batchnorm
    from codesign.models.cnn import CnnArch, StageSpec, build_cnn
    from codesign.models.export import export_qonnx

    arch = CnnArch(stages=(StageSpec(**_STAGE),), input_size=28)
    bits = BitConfig(input_bits=8, layers=tuple(LayerBits(w, a) for w, a in layers))
    torch.manual_seed(0)
    model = build_cnn(arch, bits)
    randomize_batchnorm(model)
    model.eval()
    qonnx = export_qonnx(model, root / name / "export")
    result = compile_model(qonnx, CompileConfig(board="pynq-z2", fps=_FPS), root / name / "run")
    return Design(result.run_dir, model)


@pytest.fixture(scope="session")
def designs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sim_designs")


@pytest.fixture(scope="session")
def design_w4a4(designs_root: Path) -> Design:
    return _build(designs_root, "w4a4", [(4, 4), (4, None)])


@pytest.fixture(scope="session")
def design_w2a2(designs_root: Path) -> Design:
    return _build(designs_root, "w2a2", [(2, 2), (2, None)])


@pytest.fixture(scope="session")
def design_mixed(designs_root: Path) -> Design:
    return _build(designs_root, "mixed", [(3, 4), (6, None)])


def copy_design(design: Design, tmp_path: Path) -> Design:
    """A private copy of a session design's run folder: simulate writes RUN/sim/ and logs/."""
    dst = tmp_path / design.run_dir.parent.name
    shutil.copytree(design.run_dir, dst, symlinks=True)
    return Design(dst, design.model)


@pytest.fixture
def w4a4(design_w4a4: Design, tmp_path: Path) -> Design:
    """A per-test copy of :func:`design_w4a4` (the session design stays as compiled)."""
    return copy_design(design_w4a4, tmp_path)


@pytest.fixture(scope="session")
def fmnist_images() -> np.ndarray:
    """The first Fashion-MNIST test images as floats in [0, 1], ``(N, 1, 28, 28)``."""
    from codesign.data.datasets import load_dataset
    from codesign.errors import DatasetMissingError

    try:
        test = load_dataset("fashion_mnist", "test")
    except DatasetMissingError as err:
        pytest.skip(str(err))
    return test.images[:16, None].astype(np.float32) / 255.0
