"""Benchmark: FINN's CNV (BNN-PYNQ topology) at W1A1 and W2A2, all RTL, whole design in Yosys.

The model is :mod:`codesign.bench.bnn_cnv` (plain ``brevitas.nn``, seeded weights and
BatchNorm statistics; no training: resources and throughput do not depend on the values).
Each variant is compiled for Pynq-Z2 at :data:`FPS` (FINN-examples' cnv-w2a2 runs 3,031 FPS
on AUP-ZU3) with LUT MVUs (``impl: lut``) and RTL max-pools, then the whole dataflow design
is synthesized by Yosys for xc7 (no per-layer runs), after two random frames went through
Verilator (bit-exact against FINN's execution and Brevitas; the compile's FIFOs, unsized).
Written as ``cnv.json`` next to BNN-PYNQ's published Pynq-Z1 figures (Vivado counts, HLS
MVAUs). ``python -m codesign.bench.cnv OUT [FPS]`` runs it on its own.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from pathlib import Path
from typing import Any

from codesign.io import atomic_write_json
from codesign.settings import get_settings

log = logging.getLogger(__name__)

FPS = 3_000.0
VARIANTS = ((1, 1), (2, 2))
#: BNN-PYNQ's published Pynq-Z1 LUT counts (Vivado, HLS MVAUs), for comparison
BNN_PYNQ_LUT = {"w1a1": 26_072, "w2a2": 37_302}


def measure(out_dir: Path, w: int, a: int, fps: float, settings: Any) -> dict[str, Any]:  # noqa: ANN401
    """Compile CNV-wWaA at ``fps`` and synthesize the whole design; return the figures."""
    from codesign.bench.bnn_cnv import export_cnv
    from codesign.finn import CompileConfig, compile_model
    from codesign.synth import synthesize

    name = f"w{w}a{a}"
    start = time.perf_counter()
    model, qonnx = export_cnv(w, a, out_dir / name / "export")
    cfg = CompileConfig(board="pynq-z2", fps=fps, impl="lut")
    run = compile_model(qonnx, cfg, out_dir / name / "run")
    compile_s = time.perf_counter() - start
    sim = _simulate(model, run.run_dir)
    report = synthesize(run.run_dir, per_layer=False, whole=True, timeout_s=7200, settings=settings)
    assert report.whole is not None
    got = report.whole.resources
    est = run.estimates
    return {
        "variant": name,
        "fps_target": fps,
        "fps_estimate": round(est.fps, 1),
        "bottleneck": est.bottleneck,
        "cycles_per_frame": est.max_cycles,
        "yosys": {
            "lut": got.lut,
            "ff": got.ff,
            "bram18": got.bram18,
            "dsp": got.dsp,
            "lutram": got.lutram,
            "srl": got.srl,
        },
        "finn_estimate": {"lut": est.total.lut, "bram18": est.total.bram18, "dsp": est.total.dsp},
        "bnn_pynq_pynq_z1_lut": BNN_PYNQ_LUT[name],
        "ops": sorted({layer.op_type for layer in est.layers}),
        "sim": sim,
        "compile_s": round(compile_s, 1),
        "yosys_s": round(report.whole.seconds, 1),
    }


def _simulate(model: Any, run_dir: Path, frames: int = 2) -> dict[str, Any]:  # noqa: ANN401
    """Random 32x32x3 frames in [-1, 1) through Verilator; compare with FINN and Brevitas."""
    import numpy as np
    import torch

    from codesign.finn.golden import integer_outputs, run_tail_affine
    from codesign.sim import simulate

    images = np.random.default_rng(0).uniform(-1, 1, (frames, 3, 32, 32)).astype(np.float32)
    res = simulate(run_dir, images, timeout_s=7200)
    scale, offset = run_tail_affine(run_dir / "parent.onnx")
    with torch.no_grad():
        y = model(torch.from_numpy(images)).numpy()
    brevitas = integer_outputs(y, scale, offset).reshape(res.outputs.shape)
    return {
        "frames": frames,
        "bit_exact_vs_finn": bool(res.bit_exact),
        "equal_to_brevitas": bool(np.array_equal(res.outputs, brevitas)),
        "distinct_outputs": int(len(np.unique(res.outputs))),
        "interval_cycles": float(res.interval_cycles),
        "interval_vs_exp_cycles": round(float(res.cycles_vs_analytic), 3),
    }


def run(out_dir: Path, fps: float = FPS) -> dict[str, Any]:
    """Measure both variants (Yosys results cached by digest); write and return ``cnv.json``."""
    out_dir = Path(out_dir)
    settings = dataclasses.replace(get_settings(), cache_dir=out_dir / "cache")
    points = []
    for w, a in VARIANTS:
        point = measure(out_dir, w, a, fps, settings)
        log.info("%s", point)
        points.append(point)
        atomic_write_json(out_dir / "cnv.json", {"board": "pynq-z2", "points": points})
    return {"board": "pynq-z2", "family": "xc7", "points": points}


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    args = sys.argv[1:]
    run(Path(args[0] if args else "runs/bench/cnv"), float(args[1]) if len(args) > 1 else FPS)
