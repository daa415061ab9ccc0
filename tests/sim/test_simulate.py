"""Verilator simulation against FINN's execution and Brevitas, backpressure, FIFO sizing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from codesign.sim import SimHangError, SimMismatchError, simulate, size_fifos
from codesign.sim.simulation import check_outputs

pytestmark = pytest.mark.verilator


def _brevitas_integers(design, images: np.ndarray, result) -> np.ndarray:
    """Brevitas forward, mapped back to the integers the dataflow graph outputs."""
    import torch

    from codesign.finn.golden import integer_outputs, run_tail_affine

    scale, offset = run_tail_affine(design.run_dir / "parent.onnx")
    with torch.no_grad():
        y = design.model(torch.from_numpy(images)).numpy()
    return integer_outputs(y, scale, offset).reshape(result.outputs.shape)


@pytest.mark.parametrize("name", ["design_w4a4", "design_w2a2", "design_mixed"])
def test_bit_exact_vs_finn_and_brevitas(name: str, request, fmnist_images, tmp_path) -> None:
    shared = request.getfixturevalue(name)
    shutil.copytree(shared.run_dir, tmp_path / "run", symlinks=True)  # simulate writes into it
    design = type(shared)(tmp_path / "run", shared.model)
    images = fmnist_images[:4]
    result = simulate(design.run_dir, images)
    assert result.bit_exact
    assert result.outputs.shape == (4, 1, 10)
    np.testing.assert_array_equal(result.outputs, result.expected)
    np.testing.assert_array_equal(result.outputs, _brevitas_integers(design, images, result))
    # the outputs are not trivially constant
    assert len(np.unique(result.outputs)) > 4
    assert 0 < result.latency_cycles < 20 * result.bottleneck_cycles
    assert result.interval_cycles >= result.bottleneck_cycles * 0.98
    saved = json.loads((design.run_dir / "sim" / "result.json").read_text())
    assert saved["bit_exact"] is True
    assert saved["interval_cycles"] == result.interval_cycles
    assert saved["bottleneck_node"] in saved["analytic_cycles"]
    assert (design.run_dir / "logs" / "verilator_build.log").is_file()


def test_bit_exact_under_backpressure(w4a4, fmnist_images) -> None:
    """10% output ready: a full-speed design must stall, never lose or corrupt a word."""
    images = fmnist_images[:3]
    free = simulate(w4a4.run_dir, images, name="free")
    slow = simulate(w4a4.run_dir, images, ready_pct=10, seed=7, name="ready10")
    assert slow.bit_exact and slow.digest == free.digest  # same build, run-time plusargs
    assert slow.build_cached
    np.testing.assert_array_equal(slow.outputs, free.outputs)
    assert slow.streams[-1].stalls > 0 and free.streams[-1].stalls == 0
    assert slow.total_cycles > free.total_cycles


def test_mismatch_names_frame_and_element(w4a4, fmnist_images) -> None:
    result = simulate(w4a4.run_dir, fmnist_images[:3], name="mismatch")
    expected = result.expected.copy()
    expected[2, 0, 7] += 1
    with pytest.raises(
        SimMismatchError,
        match=r"first at frame 2, element \(0, 7\).*"
        r"1 elements in 1 of 3 frames differ",
    ):
        check_outputs(result.outputs, expected)


def test_simulate_raises_on_mismatch_and_records_it(w4a4, fmnist_images, monkeypatch):
    """End to end: a corrupted reference makes simulate() fail, naming frame and element."""
    import codesign.sim.simulation as sim_module

    real = sim_module.finn_reference

    def corrupted(*args, **kwargs):
        ref = real(*args, **kwargs)
        ref.outputs[1].reshape(-1)[3] += 5
        return ref

    monkeypatch.setattr(sim_module, "finn_reference", corrupted)
    with pytest.raises(SimMismatchError, match=r"first at frame 1, element \(0, 3\)"):
        simulate(w4a4.run_dir, fmnist_images[:2], name="corrupt")
    saved = json.loads((w4a4.run_dir / "sim" / "corrupt.json").read_text())
    assert saved["bit_exact"] is False


def test_cycle_limit_reports_a_hang(w4a4, fmnist_images) -> None:
    with pytest.raises(
        SimHangError,
        match=r"stopped after 500 cycles with 0 of \d+ output words "
        r"\(0 of 2 frames\)",
    ):
        simulate(w4a4.run_dir, fmnist_images[:2], max_cycles=500, name="hang")


def test_waveform(w4a4, fmnist_images) -> None:
    from codesign.sim.verilator import fst_supported

    result = simulate(w4a4.run_dir, fmnist_images[:1], fst=True, name="wave")
    wave = Path(result.waveform)
    assert wave.suffix == (".fst" if fst_supported() else ".vcd")
    assert wave.stat().st_size > 1000
    if wave.suffix == ".vcd":
        assert "s0_tvalid" in wave.read_text(errors="replace")


def test_fifo_sizing_reaches_analytic_throughput(w4a4, fmnist_images, tmp_path) -> None:
    run = tmp_path / "run"
    shutil.copytree(w4a4.run_dir, run, symlinks=True)
    compiled_bytes = (run / "compiled.onnx").read_bytes()
    images = fmnist_images[:8]
    sizing = size_fifos(run, images)
    assert sizing.initial_interval > sizing.bottleneck_cycles * 1.02, "nothing to size"
    assert sizing.reached
    assert abs(sizing.sized_interval / sizing.bottleneck_cycles - 1) <= 0.02
    assert sizing.depths != sizing.initial_depths
    # its own output: the sized design simulates at the analytic rate, bit-exact, and is
    # what simulate takes by default; compile's model is untouched
    assert Path(sizing.sized_model) == run / "sized.onnx"
    assert (run / "compiled.onnx").read_bytes() == compiled_bytes
    after = simulate(run, images, name="sized")
    assert after.fifo_depths == sizing.depths
    assert abs(after.interval_cycles / after.bottleneck_cycles - 1) <= 0.02
    # the folding config FINN's ApplyConfig reads sets the same depths
    from finn.transformation.general import ApplyConfig
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    config = json.loads((run / "folding_config.json").read_text())
    assert {k: config[k]["depth"] for k in sizing.depths} == sizing.depths
    model = ModelWrapper(str(run / "compiled.onnx")).transform(
        ApplyConfig(str(run / "folding_config.json"))
    )
    for node in model.get_nodes_by_op_type("StreamingFIFO_rtl"):
        assert getCustomOp(node).get_nodeattr("depth") == sizing.depths[node.name]
    # the regenerated FIFO RTL carries the new depth
    sized = ModelWrapper(str(run / "sized.onnx"))
    for node in sized.get_nodes_by_op_type("StreamingFIFO_rtl"):
        inst = getCustomOp(node)
        code_dir = Path(inst.get_nodeattr("code_gen_dir_ipgen"))
        assert code_dir.is_relative_to(run)
        text = (code_dir / f"{node.name}.v").read_text()
        assert f".DEPTH({sizing.depths[node.name]})" in text
    # clearing the sizing gives compile's depths back
    from codesign.runfolder import RunFolder
    from codesign.sim.fifo import clear_fifo_sizing

    assert len(clear_fifo_sizing(run)) == 3
    assert RunFolder(run).fifo_depths() == sizing.initial_depths


def test_cli_simulate(w4a4, tmp_path) -> None:
    from click.testing import CliRunner

    from codesign.cli.main import cli

    out = CliRunner().invoke(
        cli,
        ["simulate", str(w4a4.run_dir), "--frames", "2", "--ready-pct", "50"],
        catch_exceptions=False,
    )
    assert out.exit_code == 0, out.output
    assert "measured / analytic" in out.output
    saved = json.loads((w4a4.run_dir / "sim" / "result.json").read_text())
    assert saved["ready_pct"] == 50 and saved["frames"] == 2 and saved["bit_exact"]
