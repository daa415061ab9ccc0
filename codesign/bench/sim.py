"""Benchmark: Verilator build time and simulated cycles per second on a small CNN.

A one-stage W4A4 CNN of the family (stride-2 conv, 4 channels, classifier) for 28x28
Fashion-MNIST is compiled for the Pynq-Z2, then built with Verilator into a fresh cache
folder (so the build time is real, never a cache hit) and simulated on 64 test images.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

FRAMES = 64
FPS_TARGET = 60_000.0


def run(out_dir: Path) -> dict:
    """Compile, build and simulate; return build seconds and simulated cycles per second."""
    import torch

    from codesign.data.datasets import load_dataset
    from codesign.finn import CompileConfig, compile_model
    from codesign.models.bits import BitConfig
    from codesign.models.cnn import CnnArch, StageSpec, build_cnn
    from codesign.models.export import export_qonnx
    from codesign.settings import get_settings
    from codesign.sim import simulate
    from codesign.tools import tool_version

    out_dir = Path(out_dir)
    arch = CnnArch(stages=(StageSpec(width=4, kernel=3, stride=2),), input_size=28)
    torch.manual_seed(0)
    model = build_cnn(arch, BitConfig.uniform(arch.n_layers, 4, 4))
    t0 = time.perf_counter()
    qonnx = export_qonnx(model, out_dir / "export")
    compiled = compile_model(qonnx, CompileConfig(board="pynq-z2", fps=FPS_TARGET), out_dir / "run")
    compile_s = time.perf_counter() - t0
    cache = out_dir / "verilator-cache"
    shutil.rmtree(cache, ignore_errors=True)  # a real build every time, never an earlier one
    settings = dataclasses.replace(get_settings(), cache_dir=cache)
    images = load_dataset("fashion_mnist", "test").images[:FRAMES, None]
    images = images.astype(np.float32) / 255.0  # (N, 1, 28, 28)
    result = simulate(compiled.run_dir, images, settings=settings)
    cached = simulate(compiled.run_dir, images, settings=settings, name="cached")
    return {
        "design": "1-stage CNN W4A4, 28x28, pynq-z2",
        "verilator": tool_version("verilator", settings),
        "compile_s": round(compile_s, 2),
        "verilator_build_s": result.build_s,
        "cache_hit_second_run": cached.build_cached,
        "frames": result.frames,
        "simulated_cycles": result.total_cycles,
        "sim_wall_s": result.sim_s,
        "simulated_cycles_per_s": round(result.total_cycles / result.sim_s),
        "reference_s": result.reference_s,
        "bit_exact": result.bit_exact,
        "interval_cycles": result.interval_cycles,
        "analytic_cycles": result.bottleneck_cycles,
        "latency_cycles": result.latency_cycles,
    }
