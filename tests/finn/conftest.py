"""Session-scoped compiles shared by the compile tests (each compile costs a few seconds)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from compile_cases import BIT_CONFIGS, CASES, build_quickstart

from codesign.finn.compile import CompileResult, compile_model
from codesign.finn.config import CompileConfig
from codesign.models.cnn import QuantCNN
from codesign.models.export import export_qonnx


@dataclass(frozen=True)
class Compiled:
    """One compiled quickstart network and the Brevitas model it came from."""

    name: str
    board: str
    model: QuantCNN
    result: CompileResult


def _fmnist_test(start: int, stop: int) -> np.ndarray:
    from codesign.data.datasets import load_dataset
    from codesign.errors import DatasetMissingError

    try:
        ds = load_dataset("fashion_mnist", "test")
    except DatasetMissingError as err:
        pytest.skip(str(err))  # the message gives the fix (the Debian package to install)
    return (ds.images[start:stop].astype(np.float32) / 255.0)[:, None]  # (N, 1, 28, 28)


@pytest.fixture(scope="session")
def fmnist_test_images() -> np.ndarray:
    """32 real Fashion-MNIST test images, ``(32, 1, 28, 28)`` float32 in [0, 1]."""
    return _fmnist_test(0, 32)


@pytest.fixture(scope="session")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Compiled]:
    """Every case in :data:`CASES`, keyed ``"<config>@<board>"``."""
    root = tmp_path_factory.mktemp("compiled")
    calib = _fmnist_test(1000, 1512)
    out = {}
    for name, board, fps, ip in CASES:
        key = f"{name}@{board}"
        model = build_quickstart(BIT_CONFIGS[name], calib)
        qonnx = export_qonnx(model, root / key / "export")
        cfg = CompileConfig(board=board, fps=fps, prepare_ip=ip)
        result = compile_model(Path(qonnx), cfg, root / key / "run")
        out[key] = Compiled(name=name, board=board, model=model, result=result)
    return out
