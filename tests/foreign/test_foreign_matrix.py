"""Foreign models (plain ``brevitas.nn``, the user's own quantizers, not codesign's family)
compile, simulate bit-exactly under backpressure and synthesize; every node type in
:data:`codesign.finn.support.SUPPORTED` is simulated and synthesized by one of them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from foreign_hw import fmnist, run_hardware
from foreign_models import BiasFlattenCnn, MaxPoolCnn, SignedMlp, TfcMlp, export

from codesign.finn.support import SUPPORTED

pytestmark = [pytest.mark.verilator, pytest.mark.yosys]


@pytest.mark.parametrize("bits", [(2, 2), (4, 4)], ids=["W2A2", "W4A4"])
def test_tfc_like_mlp_with_leading_flatten(
    bits: tuple[int, int], tmp_path: Path, covered_ops: set[str]
) -> None:
    torch.manual_seed(0)
    model = TfcMlp(*bits, hidden=(16, 16, 16))
    qonnx = export(model, (1, 28, 28), tmp_path / "export")
    hw = run_hardware(model, qonnx, tmp_path, fmnist(3), fps=50_000)
    # the flatten stayed on the host: no Reshape in the dataflow, and it is not the bottleneck
    assert "Reshape_rtl" not in hw.op_types
    assert hw.op_types >= {"MVAU_rtl", "Thresholding_rtl", "StreamingFIFO_rtl"}
    assert hw.estimates.max_cycles <= 2_000  # 50k FPS at 100 MHz
    covered_ops.update(hw.op_types)


def test_cnn_with_biases_and_final_flatten(tmp_path: Path, covered_ops: set[str]) -> None:
    torch.manual_seed(0)
    model = BiasFlattenCnn()
    qonnx = export(model, (1, 10, 10), tmp_path / "export")
    hw = run_hardware(model, qonnx, tmp_path, fmnist(3, side=10), fps=20_000)
    assert hw.op_types >= {"ConvolutionInputGenerator_rtl", "FMPadding_rtl", "MVAU_rtl"}
    covered_ops.update(hw.op_types)


def test_maxpool_cnn_with_lut_mvus(tmp_path: Path, covered_ops: set[str]) -> None:
    torch.manual_seed(0)
    model = MaxPoolCnn(w=2, a=2)
    qonnx = export(model, (1, 10, 10), tmp_path / "export")
    hw = run_hardware(model, qonnx, tmp_path, fmnist(3, side=10), fps=20_000, impl="auto")
    assert "Pool_rtl" in hw.op_types  # codesign's RTL max-pool
    # impl auto: the first conv sees the 8-bit input (DSP MVU), the W2A2 layers use LUTs.
    impls = {x.name: x.impl for x in hw.estimates.layers if x.op_type == "MVAU_rtl"}
    assert impls == {"MVAU_rtl_0": "dsp", "MVAU_rtl_1": "lut", "MVAU_rtl_2": "lut"}
    assert hw.synth.whole.resources.dsp == hw.estimates.total.dsp == 1
    covered_ops.update(hw.op_types)


def test_signed_activations_and_mid_reshape(tmp_path: Path, covered_ops: set[str]) -> None:
    torch.manual_seed(0)
    model = SignedMlp()
    qonnx = export(model, (1, 8, 8), tmp_path / "export")
    hw = run_hardware(
        model,
        qonnx,
        tmp_path,
        fmnist(3, side=8),
        fps=100_000,
        per_layer_ops=("Reshape_rtl", "StreamingDataWidthConverter_rtl"),
    )
    assert "Reshape_rtl" in hw.op_types
    covered_ops.update(hw.op_types)


def test_every_supported_node_type_was_simulated_and_synthesized(covered_ops: set[str]) -> None:
    if not covered_ops:
        pytest.skip("the matrix tests did not run (deselected or tools missing)")
    assert set(SUPPORTED) <= covered_ops, f"not covered: {set(SUPPORTED) - covered_ops}"
