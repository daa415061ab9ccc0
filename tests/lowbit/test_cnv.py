"""FINN's CNV (BNN-PYNQ topology, plain ``brevitas.nn``) at W1A1 and W2A2, all RTL.

The model (codesign/bench/bnn_cnv.py) is written like an outside user's: 3x3 unpadded convs
64, 64, max-pool, 128, 128, max-pool, 256, 256, FC 512, 512, 10, 8-bit input. Compiled for
Pynq-Z2 at FINN-examples' cnv throughput (3,000 FPS at 100 MHz): every MVU is a LUT MVU,
both max-pools are Pool_rtl and nothing is left in HLS. The compile test stops before RTL
generation (``prepare_ip``, about a minute for CNV's weight memories). The bit-exact
simulation and the Yosys figures are in ``make bench`` (modules ``cnv``) and the closing note.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

FPS = 3_000


def _compile(tmp_path: Path, w: int, a: int, fps: float, prepare_ip: bool) -> tuple:
    from codesign.bench.bnn_cnv import export_cnv
    from codesign.finn import CompileConfig, compile_model

    model, qonnx = export_cnv(w, a, tmp_path / f"export_w{w}a{a}")
    cfg = CompileConfig(board="pynq-z2", fps=fps, impl="lut", prepare_ip=prepare_ip)
    return model, compile_model(qonnx, cfg, tmp_path / f"run_w{w}a{a}")


@pytest.mark.parametrize("bits", [(1, 1), (2, 2)], ids=["w1a1", "w2a2"])
def test_cnv_compiles_all_rtl_with_lut_mvus_and_rtl_pools(
    tmp_path: Path, bits: tuple[int, int]
) -> None:
    _, run = _compile(tmp_path, *bits, FPS, prepare_ip=False)
    ops = Counter(layer.op_type for layer in run.estimates.layers)
    assert ops["MVAU_rtl"] == 9 and ops["Pool_rtl"] == 2, ops
    assert ops["ConvolutionInputGenerator_rtl"] >= 6, ops
    assert all(op.endswith("_rtl") or op.startswith("StreamingFIFO") for op in ops), ops
    mvus = [layer for layer in run.estimates.layers if layer.op_type == "MVAU_rtl"]
    assert {layer.impl for layer in mvus} == {"lut"}
    assert run.estimates.total.dsp == 0
    assert run.estimates.fps >= FPS
    # finn-plus's data-width converters run below full rate at some width ratios (SWG
    # SIMD 16 -> MVU SIMD 36: 4/3 of the frame); the folding keeps every one on target
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    model = ModelWrapper(str(run.run_dir / "compiled.onnx"))
    dwcs = [n for n in model.graph.node if n.op_type.startswith("StreamingDataWidthConverter")]
    assert len(dwcs) >= 10
    assert max(getCustomOp(n).get_exp_cycles() for n in dwcs) <= 1e8 / FPS
    assert not run.estimates.bottleneck.startswith("StreamingDataWidthConverter")
