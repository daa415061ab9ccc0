"""Compile-only checks on foreign models: where the flatten stands costs nothing, and nodes
outside the support table are refused up front, each named with why and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from foreign_models import TfcMlp, export
from qonnx.core.modelwrapper import ModelWrapper

from codesign.errors import UnsupportedModelError
from codesign.finn import CompileConfig, compile_model


def _compile_mlp(tmp_path: Path, after: bool, fps: float = 100_000):
    torch.manual_seed(0)
    model = TfcMlp(2, 2, hidden=(16, 16, 16), quant_after_flatten=after)
    qonnx = export(model, (1, 28, 28), tmp_path / f"export_{after}")
    cfg = CompileConfig(board="pynq-z2", fps=fps, prepare_ip=False)
    return compile_model(qonnx, cfg, tmp_path / f"run_{after}")


def test_flatten_order_costs_the_same_and_stays_on_the_host(tmp_path: Path) -> None:
    before = _compile_mlp(tmp_path, after=False)
    after = _compile_mlp(tmp_path, after=True)
    for run in (before, after):
        parent = ModelWrapper(str(run.parent))
        assert [n.op_type for n in parent.graph.node] == [
            "Flatten",
            "StreamingDataflowPartition",
            "Mul",
        ]
        assert run.estimates.layers[0].op_type == "Thresholding_rtl"
        # per-tensor thresholds are stored once per PE (not per each of 784 channels)
        assert run.estimates.layers[0].resources.lut < 2_000
        assert run.estimates.max_cycles <= 1_000  # 100k FPS at 100 MHz
    assert before.estimates.total == after.estimates.total
    assert before.estimates.max_cycles == after.estimates.max_cycles


def test_node_outside_the_support_table_is_refused_with_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import codesign.finn.checks as checks

    table = {k: v for k, v in checks.SUPPORTED.items() if k != "Thresholding_rtl"}
    monkeypatch.setattr(checks, "SUPPORTED", table)
    with pytest.raises(UnsupportedModelError) as err:
        _compile_mlp(tmp_path, after=False)
    msg = str(err.value)
    assert "(after conversion to HW layers)" in msg  # before folding or any RTL
    assert "Thresholding_0 (Thresholding): Thresholding_rtl is not among the RTL node" in msg
    assert "fix: express the network with QuantConv2d/QuantLinear" in msg
    assert not (tmp_path / "run_False").exists()
