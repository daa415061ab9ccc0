"""Helpers for the model tests: models with non-trivial BatchNorms."""

from __future__ import annotations

import torch
from torch import nn

from codesign.models.bits import BitConfig
from codesign.models.cnn import CnnArch, QuantCNN, build_cnn


def make_model(arch: CnnArch, bits: BitConfig, images: torch.Tensor, seed: int = 0) -> QuantCNN:
    """A model whose BatchNorms are far from the identity, in eval mode.

    The running statistics are measured on ``images`` (one train-mode pass with cumulative
    averaging), and the affine parameters are random with mixed signs, so activations spread
    over the whole quantizer range and negative BatchNorm gains are covered.
    """
    torch.manual_seed(seed)
    model = build_cnn(arch, bits)
    gen = torch.Generator().manual_seed(seed + 1)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            n = module.num_features
            module.momentum = None  # cumulative average over the calibration pass
            module.reset_running_stats()
            module.weight.data = torch.randn(n, generator=gen) * 0.8  # mixed-sign gains
            module.bias.data = torch.randn(n, generator=gen) * 0.5 + 0.3
    model.train()
    with torch.no_grad():
        model(images)
    return model.eval()
