"""Issue 10's acceptance model: FINN's TFC topology (784-64-64-64-10, W2A2, leading
flatten), written as a Brevitas user would, compiles for Pynq-Z2 and AUP-ZU3, simulates
bit-exactly under backpressure and synthesizes. Slow (full-size MLP, whole-design Yosys)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from foreign_hw import fmnist, run_hardware
from foreign_models import TfcMlp, export

pytestmark = [pytest.mark.slow, pytest.mark.verilator, pytest.mark.yosys]


@pytest.mark.parametrize(("board", "fps"), [("pynq-z2", 100_000), ("aup-zu3", 1_000_000)])
def test_tfc_w2a2_compiles_simulates_synthesizes(board: str, fps: float, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = TfcMlp(2, 2)
    qonnx = export(model, (1, 28, 28), tmp_path / "export")
    hw = run_hardware(model, qonnx, tmp_path, fmnist(4), board=board, fps=fps)
    assert "Reshape_rtl" not in hw.op_types  # the leading flatten stays on the host
    assert hw.estimates.fps >= fps
    # FIFOs are FINN's shallow ones here (no --size-fifos): measured within 2x of FINN's
    # analytic interval (Pynq-Z2 at 100k FPS measured 1140 vs 784 cycles, 2026-11-27)
    assert hw.sim.interval_cycles < 2 * hw.estimates.max_cycles
