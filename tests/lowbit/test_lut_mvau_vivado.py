"""A LUT-MVU design through finn-plus's builder and Vivado (skipped where Vivado is absent).

The same code path as ``codesign build``: the build folder (kernel sources under
``rtl/codesign_rtllib``, the register step first) and finn-plus's ``finn build``. Nothing is
faked: the test checks what Vivado's reports say about the LUT MVUs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.vivado, pytest.mark.slow]


def test_xnor_mlp_with_lut_mvus_builds_in_vivado_without_dsps(tmp_path: Path) -> None:
    import torch
    from lowbit_models import FRAME, XnorMlp, export

    from codesign.boards import load_board
    from codesign.build import SUPPORTED_VIVADO, prepare_build, run_build
    from codesign.finn import CompileConfig, compile_model
    from codesign.finn.lut_mvau import LUT_MVAU_STEP
    from codesign.sim import size_fifos

    torch.manual_seed(0)
    qonnx = export(XnorMlp(), tmp_path / "export")
    run = compile_model(
        qonnx, CompileConfig(board="pynq-z2", fps=200_000, impl="lut"), tmp_path / "run"
    )
    # FIFO depths from simulation (RUN/folding_config.json), as `codesign build` wants them
    frames = np.random.default_rng(0).uniform(-1, 1, (8, *FRAME)).astype(np.float32)
    assert size_fifos(run.run_dir, frames).reached
    folder = prepare_build(run.run_dir, load_board("pynq-z2"), tmp_path / "build")
    assert folder.config["steps"][0] == LUT_MVAU_STEP
    measurements = {m.kind: m for m in run_build(folder)}
    ooc, bit = measurements["ooc_post_route"], measurements["bitfile_post_route"]
    assert ooc.tool == "vivado" and ooc.tool_version in SUPPORTED_VIVADO
    assert ooc.resources.lut > 0
    assert ooc.resources.dsp == 0  # the stitched IP: every MVU is a LUT MVU
    assert ooc.timing["fmax_mhz"] >= 100  # Pynq-Z2's clock
    mvus = {k: v for k, v in bit.per_node.items() if "MVAU_rtl" in k}
    assert len(mvus) == 3, bit.per_node
    assert all(r.lut > 0 and r.dsp == 0 for r in mvus.values()), mvus
    assert (folder.output_dir / "deploy" / "bitfile" / "finn-accel.bit").stat().st_size > 0
