"""Benchmark: compile time (QONNX -> RTL dataflow graph) for two network sizes.

* ``quickstart``: ``QUICKSTART_ARCH`` (3 stride-2 conv stages, 28x28x1), W4A4, Pynq-Z2.
* ``cnv``: a FINN-CNV-sized network of the RTL-friendly family: 32x32x3 input, six 3x3
  convs 64-64-128-128-256-256 with stride-2 convs where CNV max-pools (about 68 M MACs vs
  CNV's 58 M), W4A4, Pynq-Z2.

Each is exported to QONNX and compiled with PrepareIP (RTL generation); the figures are the
export and compile wall times, the per-step times, the node count and FINN's estimates.
The runner (:mod:`codesign.bench.runner`) adds total wall time and peak RSS.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

BOARD = "pynq-z2"
QUICKSTART_FPS = 20_000.0
CNV_FPS = 500.0


def cnv_arch() -> Any:  # noqa: ANN401 - a CnnArch; models is imported lazily
    """The CNV-sized architecture (stride-2 convs instead of CNV's max-pools)."""
    from codesign.models.cnn import CnnArch, StageSpec

    widths_strides = ((64, 1), (64, 2), (128, 1), (128, 2), (256, 1), (256, 2))
    return CnnArch(
        stages=tuple(StageSpec(width=w, kernel=3, stride=s) for w, s in widths_strides),
        num_classes=10,
        in_channels=3,
        input_size=32,
    )


def run(out_dir: Path) -> dict:
    """Compile both networks into ``out_dir``; return their timings and estimates."""
    from codesign.models.cnn import QUICKSTART_ARCH

    out_dir = Path(out_dir)
    return {
        "board": BOARD,
        "quickstart": _compile_one(QUICKSTART_ARCH, QUICKSTART_FPS, out_dir / "quickstart"),
        "cnv": _compile_one(cnv_arch(), CNV_FPS, out_dir / "cnv"),
    }


def _compile_one(arch: Any, fps: float, out_dir: Path) -> dict:  # noqa: ANN401
    import torch

    from codesign.finn import CompileConfig, compile_model
    from codesign.models.bits import BitConfig
    from codesign.models.cnn import build_cnn
    from codesign.models.export import export_qonnx

    torch.manual_seed(0)
    model = build_cnn(arch, BitConfig.uniform(arch.n_layers, 4, 4, input_bits=8)).eval()
    t0 = time.perf_counter()
    qonnx = export_qonnx(model, out_dir / "export")
    t1 = time.perf_counter()
    result = compile_model(qonnx, CompileConfig(board=BOARD, fps=fps), out_dir / "run")
    t2 = time.perf_counter()
    est = result.estimates
    assert est is not None  # a full compile always writes estimates
    log.info("compiled %d-layer network in %.1f s", arch.n_layers, t2 - t1)
    return {
        "layers": arch.n_layers,
        "export_s": round(t1 - t0, 2),
        "compile_s": round(t2 - t1, 2),
        "step_s": result.step_seconds,
        "nodes": len(est.layers),
        "target_fps": fps,
        "estimated_fps": round(est.fps, 1),
        "bottleneck": est.bottleneck,
        "estimate_total": est.total.to_dict(),
    }
