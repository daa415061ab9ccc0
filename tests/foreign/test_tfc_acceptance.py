"""Issue 10's acceptance model: FINN's TFC topology (784-64-64-64-10, W2A2, leading
flatten), written as a Brevitas user would. It compiles for AUP-ZU3 at 1M FPS with the
flatten on the host, and for Pynq-Z2, where it simulates bit-exactly under backpressure and
synthesizes. Slow (full-size MLP, whole-design Yosys); the AUP-ZU3 simulation and synthesis
at the highest accepted FPS are in the issue's closing note (they take minutes more)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from foreign_hw import fmnist, run_hardware
from foreign_models import TfcMlp, export
from qonnx.core.modelwrapper import ModelWrapper

from codesign.finn import CompileConfig, compile_model

pytestmark = [pytest.mark.slow, pytest.mark.verilator, pytest.mark.yosys]


def test_tfc_w2a2_compiles_simulates_synthesizes(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = TfcMlp(2, 2)
    qonnx = export(model, (1, 28, 28), tmp_path / "export")

    zu3 = compile_model(
        qonnx, CompileConfig(board="aup-zu3", fps=1_000_000, prepare_ip=False), tmp_path / "zu3"
    )
    assert zu3.estimates.fps >= 1_000_000
    parent = ModelWrapper(str(zu3.parent))
    assert parent.graph.node[0].op_type == "Flatten"  # on the host, not a Reshape_rtl

    hw = run_hardware(model, qonnx, tmp_path / "pynq", fmnist(4), board="pynq-z2", fps=100_000)
    assert "Reshape_rtl" not in hw.op_types
    assert hw.estimates.fps >= 100_000
    # FINN's shallow FIFOs here (no --size-fifos): measured within 2x of FINN's analytic
    # interval (1140 vs 784 cycles at 50% backpressure, 2026-11-27)
    assert hw.sim.interval_cycles < 2 * hw.estimates.max_cycles
