"""Non-trivial BatchNorm statistics for untrained networks (tests and hardware benchmarks).

An untrained network's BatchNorm layers all hold mean 0, variance 1, weight 1 and bias 0,
so FINN absorbs them into thresholds that are equal in every channel and a per-channel bug
in the hardware would go unseen. :func:`randomize_batchnorm` draws per-channel statistics
from a seeded generator instead, module by module in ``model.modules()`` order, so the same
model and seed always give the same design (and the same Verilator/Yosys cache digests).
"""

from __future__ import annotations

import torch
from torch import nn


def randomize_batchnorm(model: nn.Module, seed: int = 1, *, mean_std: float | None = None) -> None:
    """Give every ``BatchNorm1d``/``BatchNorm2d`` of ``model`` seeded per-channel statistics.

    Args:
        model: The network, changed in place.
        seed: Seed of the generator that draws all statistics.
        mean_std: ``None`` draws narrow statistics (running mean uniform in [0, 0.2),
            variance in [0.5, 1), weight in [0.5, 1.5), bias in [0, 0.2)); a number draws
            spread ones, which move activations across more threshold steps (running mean
            normal with that standard deviation, variance in [0.5, 2.5), weight in
            [0.5, 1.5), bias normal with standard deviation 0.2).
    """
    g = torch.Generator().manual_seed(seed)
    for mod in model.modules():
        if not isinstance(mod, nn.BatchNorm1d | nn.BatchNorm2d):
            continue
        n = mod.num_features
        if mean_std is None:
            mod.running_mean.data = torch.rand(n, generator=g) * 0.2
            mod.running_var.data = torch.rand(n, generator=g) * 0.5 + 0.5
            mod.weight.data = torch.rand(n, generator=g) + 0.5
            mod.bias.data = torch.rand(n, generator=g) * 0.2
        else:
            mod.running_mean.data = torch.randn(n, generator=g) * mean_std
            mod.running_var.data = torch.rand(n, generator=g) * 2 + 0.5
            mod.weight.data = torch.rand(n, generator=g) + 0.5
            mod.bias.data = torch.randn(n, generator=g) * 0.2
