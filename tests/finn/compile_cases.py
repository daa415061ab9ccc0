"""The compile test cases: bit configs, boards, FPS targets, and the model builder."""

from __future__ import annotations

import numpy as np
import torch

from codesign.models.bits import BitConfig, LayerBits
from codesign.models.bn_stats import randomize_batchnorm
from codesign.models.cnn import QUICKSTART_ARCH, QuantCNN, build_cnn

N = QUICKSTART_ARCH.n_layers
BIT_CONFIGS: dict[str, BitConfig] = {
    "uniform4": BitConfig.uniform(N, 4, 4, input_bits=8),
    "uniform2": BitConfig.uniform(N, 2, 2, input_bits=8),
    # different weight and activation bits in every layer
    "mixed": BitConfig(
        input_bits=8, layers=(LayerBits(4, 3), LayerBits(2, 4), LayerBits(3, 2), LayerBits(6, None))
    ),
}
# (config, board, fps, generate RTL): both part families, one compile with PrepareIP.
CASES = [
    ("uniform4", "pynq-z2", 20_000, False),
    ("uniform2", "zcu104", 100_000, False),
    ("mixed", "pynq-z2", 20_000, True),
    ("mixed", "zcu104", 200_000, False),
]


def build_quickstart(bits: BitConfig, calib: np.ndarray, seed: int = 0) -> QuantCNN:
    """The quickstart CNN, untrained but calibrated, in eval mode.

    BatchNorm gets random affine parameters, then a few train-mode forward passes over
    ``calib`` set BatchNorm statistics and the activation quantizers' scales, so that no
    layer's activations collapse to zero (which would make the golden checks vacuous).
    """
    torch.manual_seed(seed)
    model = build_cnn(QUICKSTART_ARCH, bits)
    randomize_batchnorm(model, seed=seed + 1)
    model.train()
    with torch.no_grad():
        for batch in np.array_split(calib, 8):
            model(torch.from_numpy(batch))  # (64, 1, 28, 28)
    return model.eval()
