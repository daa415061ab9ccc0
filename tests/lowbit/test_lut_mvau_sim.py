"""LUT MVU: Verilator vs FINN execution vs Brevitas, bit for bit, and cycles vs exp_cycles.

Each design is one Verilator build: the precision chain holds twelve single layers (W8A8,
W4A4, W3A3, W2A2, W2A4, each with signed and with unsigned activations, and W4A2 and
W8A2, whose partial products run over the activation bits; narrow and
full-range weights), the XNOR MLP three W1A1 layers, and the quickstart CNN mixes LUT and
DSP MVUs in one design.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.verilator


def _brevitas_integers(model: object, run_dir: Path, frames: np.ndarray) -> np.ndarray:
    import torch

    from codesign.finn.golden import integer_outputs, run_tail_affine

    scale, offset = run_tail_affine(run_dir / "parent.onnx")
    with torch.no_grad():
        y = model(torch.from_numpy(frames)).numpy()  # type: ignore[operator]
    return integer_outputs(y, scale, offset)


def _mvau_impls(run_dir: Path) -> list[str]:
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from codesign.finn.lut_mvau import register

    register()
    model = ModelWrapper(str(run_dir / "compiled.onnx"))
    return [getCustomOp(n).get_nodeattr("resType") for n in model.get_nodes_by_op_type("MVAU_rtl")]


def _check(model: object, run_dir: Path, frames: np.ndarray) -> object:
    from codesign.sim import simulate

    full = simulate(run_dir, frames, ready_pct=100)
    assert full.bit_exact
    np.testing.assert_array_equal(full.outputs, full.expected)
    brevitas = _brevitas_integers(model, run_dir, frames).reshape(full.outputs.shape)
    np.testing.assert_array_equal(full.outputs, brevitas)
    assert len(np.unique(full.outputs)) > 3
    # 10% output backpressure: same outputs
    slow = simulate(run_dir, frames, ready_pct=90, seed=3, name="backpressure")
    np.testing.assert_array_equal(slow.outputs, full.expected)
    return full


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    from lowbit_models import FRAME

    return np.random.default_rng(0).uniform(-1, 1, (4, *FRAME)).astype(np.float32)


def test_precision_chain_lut_is_bit_exact_and_on_cycle(tmp_path: Path, frames: np.ndarray) -> None:
    import torch
    from lowbit_models import CHAIN_LAYERS, PrecisionChain, export

    from codesign.finn import CompileConfig, compile_model

    torch.manual_seed(0)
    model = PrecisionChain()
    qonnx = export(model, tmp_path / "export")
    run = compile_model(
        qonnx, CompileConfig(board="pynq-z2", fps=100_000, impl="lut"), tmp_path / "run"
    )
    assert _mvau_impls(run.run_dir) == ["lut"] * len(CHAIN_LAYERS)
    mvaus = [r for r in run.estimates.layers if r.op_type == "MVAU_rtl"]
    assert all(r.resources.dsp == 0 and r.resources.lut > 0 for r in mvaus)
    full = _check(model, run.run_dir, frames)
    assert abs(full.cycles_vs_analytic - 1.0) <= 0.02, full.cycles_vs_analytic


def test_xnor_w1a1_mlp_compiles_with_auto_and_is_bit_exact(
    tmp_path: Path, frames: np.ndarray
) -> None:
    import torch
    from lowbit_models import XnorMlp, export

    from codesign.finn import CompileConfig, compile_model

    torch.manual_seed(0)
    model = XnorMlp()
    qonnx = export(model, tmp_path / "export")
    run = compile_model(
        qonnx, CompileConfig(board="pynq-z2", fps=200_000, impl="auto"), tmp_path / "run"
    )
    assert _mvau_impls(run.run_dir) == ["lut"] * 3
    assert run.estimates.total.dsp == 0
    _check(model, run.run_dir, frames)

    # measured cycles = exp_cycles within 2% once the FIFOs are sized (three equal-rate LUT
    # MVUs back to back may run slower with the compile's shallow ones), still bit-exact
    from codesign.sim import simulate, size_fifos

    assert size_fifos(run.run_dir, frames).reached
    sized = simulate(run.run_dir, frames, name="sized")
    assert sized.bit_exact
    assert abs(sized.interval_cycles / sized.bottleneck_cycles - 1) <= 0.02

    # `codesign simulate --inputs FILE.npy`: the model's own shape and range (same build)
    from click.testing import CliRunner

    from codesign.cli.main import cli
    from codesign.errors import ConfigError
    from codesign.sim.simulation import load_inputs

    npy = tmp_path / "frames.npy"
    np.save(npy, frames[:2])
    res = CliRunner().invoke(cli, ["simulate", str(run.run_dir), "--inputs", str(npy)])
    assert res.exit_code == 0, res.output
    assert "(True)" in res.output  # frames (bit-exact vs FINN)
    np.save(npy, frames[:, :16])
    with pytest.raises(ConfigError, match=r"shape \(4, 16\) does not fit the model input"):
        load_inputs(npy, run.run_dir)

    # the Vivado build folder: kernel sources, a first step that registers the kernel, and
    # finn-plus's own config loader accepts the config (prepare_build validates it)
    from codesign.boards import load_board
    from codesign.build.folder import prepare_build
    from codesign.finn.lut_mvau import KERNEL_SOURCES, LUT_MVAU_STEP

    folder = prepare_build(
        run.run_dir, load_board("pynq-z2"), tmp_path / "build", allow_unsized_fifos=True
    )
    assert folder.config["steps"][0] == LUT_MVAU_STEP
    for name in KERNEL_SOURCES:
        assert (folder.path / "rtl" / "codesign_rtllib" / name).is_file()
    wrappers = [
        w
        for w in (folder.path / "rtl").glob("code_gen_ipgen_MVAU_rtl_*/*_wrapper.v")
        if "memstream" not in w.name
    ]
    assert len(wrappers) == 3
    assert all("codesign_mvu_lut_axi" in w.read_text() for w in wrappers)


def _quickstart(tmp_path: Path, bits: list[tuple[int, int | None]], impls: tuple[str, ...]):
    import torch

    from codesign.finn import CompileConfig, compile_model
    from codesign.models.arch import QUICKSTART_ARCH
    from codesign.models.bits import BitConfig, LayerBits
    from codesign.models.bn_stats import randomize_batchnorm
    from codesign.models.cnn import build_cnn
    from codesign.models.export import export_qonnx

    torch.manual_seed(0)
    model = build_cnn(
        QUICKSTART_ARCH, BitConfig(input_bits=8, layers=tuple(LayerBits(w, a) for w, a in bits))
    )
    randomize_batchnorm(model)
    model.eval()
    qonnx = export_qonnx(model, tmp_path / "export")
    cfg = CompileConfig(board="pynq-z2", fps=20_000, layer_impl=impls)
    return model, compile_model(qonnx, cfg, tmp_path / "run")


@pytest.mark.slow
def test_quickstart_cnn_mixing_lut_and_dsp_mvaus_is_bit_exact(tmp_path: Path) -> None:
    impls = ("lut", "lut", "dsp", "dsp")
    model, run = _quickstart(tmp_path, [(2, 2), (2, 2), (4, 4), (4, None)], impls)
    assert _mvau_impls(run.run_dir) == list(impls)
    dsp = {r.name: r.resources.dsp for r in run.estimates.layers if r.op_type == "MVAU_rtl"}
    assert [d > 0 for d in dsp.values()] == [False, False, True, True]
    images = np.random.default_rng(2).random((3, 1, 28, 28)).astype(np.float32)
    # bit-exact at 100% and 90% sink-ready; the cycles need sized FIFOs (1.40x FINN's
    # exp_cycles with the compile's shallow ones), which the precision chain does without
    _check(model, run.run_dir, images)


@pytest.mark.slow
def test_quickstart_cnn_all_lut_w2a2_is_bit_exact_under_backpressure(tmp_path: Path) -> None:
    model, run = _quickstart(tmp_path, [(2, 2), (2, 2), (2, 2), (2, None)], ("lut",) * 4)
    assert _mvau_impls(run.run_dir) == ["lut"] * 4
    assert run.estimates.total.dsp == 0
    images = np.random.default_rng(4).random((3, 1, 28, 28)).astype(np.float32)
    _check(model, run.run_dir, images)  # = FINN = Brevitas, at 100% and 90% sink-ready


@pytest.mark.slow
def test_maxpool_model_is_bit_exact_under_backpressure(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "finn"))
    from tiny_models import export_tiny

    from codesign.finn import CompileConfig, compile_model

    model, qonnx = export_tiny(tmp_path / "export", pool=True)
    run = compile_model(qonnx, CompileConfig(board="pynq-z2", fps=20_000), tmp_path / "run")
    assert "Pool_rtl" in [layer.op_type for layer in run.estimates.layers]
    images = np.random.default_rng(0).random((3, 1, 28, 28)).astype(np.float32)
    _check(model, run.run_dir, images)
