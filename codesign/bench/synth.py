"""Benchmark: Yosys time per layer and for the whole design of a small compiled CNN.

The design is built the way a user builds one: ``codesign.models`` (one stride-2 conv stage
and a classifier, W4A4, 8x8 input) compiled by ``codesign.finn.compile_model`` for a
Pynq-Z1. Synthesis uses a cache inside ``out_dir``, so every figure is a real Yosys run, one
at a time (``jobs=1``) so that the times are not inflated by a neighbour.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from codesign.settings import Settings, get_settings

log = logging.getLogger(__name__)

BOARD = "pynq-z1"


def build_design(out_dir: Path, fps: float = 100_000) -> Path:
    """Export and compile the benchmark CNN into ``out_dir/run``; return the run folder."""
    import torch

    from codesign.finn import CompileConfig, compile_model
    from codesign.models.bits import BitConfig
    from codesign.models.cnn import CnnArch, StageSpec, build_cnn
    from codesign.models.export import export_qonnx

    torch.manual_seed(0)
    arch = CnnArch(stages=(StageSpec(width=4, kernel=3, stride=2),), num_classes=4, input_size=8)
    model = build_cnn(arch, BitConfig.uniform(arch.n_layers, 4, 4, input_bits=4))
    qonnx = export_qonnx(model, out_dir / "qonnx")
    return compile_model(qonnx, CompileConfig(board=BOARD, fps=fps), out_dir / "run").run_dir


def run(out_dir: Path) -> dict[str, Any]:
    """Compile the benchmark design, synthesize every layer and the whole chain, time it.

    Returns:
        Yosys seconds per layer and for the whole design, their resources, the stitching
        overhead, FINN's estimates and the Yosys version.
    """
    from codesign.synth import synthesize

    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    run_dir = build_design(out_dir)
    compile_s = time.perf_counter() - t0
    base: Settings = get_settings()
    settings = dataclasses.replace(base, cache_dir=out_dir / "cache")
    shutil.rmtree(settings.cache_dir, ignore_errors=True)  # every figure a real Yosys run
    t1 = time.perf_counter()
    report = synthesize(run_dir, per_layer=True, whole=True, jobs=1, settings=settings)
    synth_s = time.perf_counter() - t1
    overhead = report.stitching_overhead
    return {
        "design": "CNN 1x(conv3x3 s2, 4ch) + fc, W4A4, 8x8 input",
        "board": BOARD,
        "family": report.whole.family,
        "yosys_version": report.whole.version,
        "nodes": len(report.layers),
        "compile_s": round(compile_s, 2),
        "synth_wall_s": round(synth_s, 2),
        "yosys_s_per_layer": {r.name: round(r.seconds, 2) for r in report.layers},
        "yosys_s_layers_total": round(sum(r.seconds for r in report.layers), 2),
        "yosys_s_whole": round(report.whole.seconds, 2),
        "cached_results": sum(r.cached for r in (*report.layers, report.whole)),
        "resources_per_layer": {r.name: r.resources.to_dict() for r in report.layers},
        "resources_whole": report.whole.resources.to_dict(),
        "stitching_overhead": overhead.to_dict() if overhead else None,
        "finn_estimates": {k: v.to_dict() for k, v in report.estimates.items()},
    }
