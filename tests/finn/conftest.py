"""Session-scoped compiles shared by the compile tests (each compile costs a few seconds)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_models import randomize_bn

from codesign.finn.compile import CompileResult, compile_model
from codesign.finn.config import CompileConfig
from codesign.models.bits import BitConfig, LayerBits
from codesign.models.cnn import QUICKSTART_ARCH, QuantCNN, build_cnn
from codesign.models.export import export_qonnx

N = QUICKSTART_ARCH.n_layers
BIT_CONFIGS: dict[str, BitConfig] = {
    "uniform4": BitConfig.uniform(N, 4, 4, input_bits=8),
    "uniform2": BitConfig.uniform(N, 2, 2, input_bits=8),
    # different weight and activation bits in every layer
    "mixed": BitConfig(input_bits=8, layers=(LayerBits(4, 3), LayerBits(2, 4), LayerBits(3, 2),
                                             LayerBits(6, None))),
}
# (config, board, fps, generate RTL): both part families, one compile with PrepareIP.
CASES = [
    ("uniform4", "pynq-z2", 20_000, False),
    ("uniform2", "zcu104", 100_000, False),
    ("mixed", "pynq-z2", 20_000, True),
    ("mixed", "zcu104", 200_000, False),
]


@dataclass(frozen=True)
class Compiled:
    """One compiled quickstart network and the Brevitas model it came from."""

    name: str
    board: str
    model: QuantCNN
    result: CompileResult


def build_quickstart(bits: BitConfig, calib: np.ndarray, seed: int = 0) -> QuantCNN:
    """The quickstart CNN, untrained but calibrated, in eval mode.

    BatchNorm gets random affine parameters, then a few train-mode forward passes over
    ``calib`` set BatchNorm statistics and the activation quantizers' scales, so that no
    layer's activations collapse to zero (which would make the golden checks vacuous).
    """
    torch.manual_seed(seed)
    model = build_cnn(QUICKSTART_ARCH, bits)
    randomize_bn(model, seed=seed + 1)
    model.train()
    with torch.no_grad():
        for batch in np.array_split(calib, 8):
            model(torch.from_numpy(batch))  # (64, 1, 28, 28)
    return model.eval()


def _fmnist_test(start: int, stop: int) -> np.ndarray:
    from codesign.data.datasets import load_dataset

    ds = load_dataset("fashion_mnist", "test")
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
