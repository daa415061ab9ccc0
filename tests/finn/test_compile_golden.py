"""Golden checks: QONNX execution vs FINN's execution of the compiled dataflow graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from compile_cases import CASES

from codesign.finn.golden import (
    DataflowRunner,
    execute_qonnx,
    integer_outputs,
    load_qonnx_for_exec,
)

KEYS = [f"{name}@{board}" for name, board, _, _ in CASES]


@pytest.mark.parametrize("key", KEYS)
def test_dataflow_matches_qonnx_in_integers(key, compiled, fmnist_test_images):
    c = compiled[key]
    qonnx = load_qonnx_for_exec(c.result.qonnx)
    runner = DataflowRunner(c.result.parent, c.result.compiled)
    ints = []
    for x in fmnist_test_images:
        x = x[None]  # (1, 1, 28, 28)
        y_qonnx = execute_qonnx(qonnx, x)
        got = runner.run(x)
        assert np.array_equal(got.integers, np.round(got.integers)), "partition output not integer"
        want = integer_outputs(y_qonnx, runner.scale, runner.offset)
        assert np.array_equal(want, got.integers.astype(np.int64)), key
        ints.append(want)
    ints = np.concatenate(ints)
    # a non-trivial comparison: outputs vary across images and are not mostly zero
    assert np.count_nonzero(ints) > ints.size // 2
    assert len(np.unique(ints, axis=0)) > len(ints) // 4


@pytest.mark.parametrize("key", ["mixed@pynq-z2", "uniform2@zcu104"])
def test_qonnx_matches_brevitas_in_integers(key, compiled, fmnist_test_images):
    c = compiled[key]
    qonnx = load_qonnx_for_exec(c.result.qonnx)
    scale = c.model.output_scale()
    x = fmnist_test_images[:8]
    with torch.no_grad():
        ref = c.model(torch.from_numpy(x)).numpy()
    got = np.concatenate([execute_qonnx(qonnx, xi[None]) for xi in x])
    assert np.array_equal(
        integer_outputs(ref, np.float64(scale), np.float64(0)),
        integer_outputs(got, np.float64(scale), np.float64(0)),
    )


@pytest.mark.parametrize("key", KEYS)
def test_every_node_is_rtl_and_simd_below_mw(key, compiled):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    model = ModelWrapper(str(compiled[key].result.compiled))
    ops = [n.op_type for n in model.graph.node]
    assert ops and all(op.endswith("_rtl") for op in ops), ops
    mvaus = model.get_nodes_by_op_type("MVAU_rtl")
    assert len(mvaus) == 4
    for node in mvaus:
        inst = getCustomOp(node)
        assert inst.get_nodeattr("SIMD") < inst.get_nodeattr("MW"), node.name


@pytest.mark.parametrize("key", KEYS)
def test_estimates_meet_the_fps_target(key, compiled):
    fps = {f"{n}@{b}": f for n, b, f, _ in CASES}[key]
    est = compiled[key].result.estimates
    assert est is not None and est.fps >= fps
    assert est.bottleneck in {layer.name for layer in est.layers}
    assert est.max_cycles == max(layer.cycles for layer in est.layers)
    assert est.max_cycles <= 1e9 / est.clock_ns / fps
    assert est.total.dsp == sum(layer.resources.dsp for layer in est.layers)
    # The note's claim holds: FINN prices every RTL MVAU at 0 LUTs.
    from codesign.runfolder import RTL_LUT_NOTE

    mvaus = [x for x in est.layers if x.op_type == "MVAU_rtl"]
    assert RTL_LUT_NOTE in est.notes and mvaus
    assert all(x.resources.lut == 0 and x.resources.dsp > 0 for x in mvaus)
    # Each MVAU's shape, folding and precisions: cycles = (MH/PE) * (MW/SIMD) * vectors.
    for x in mvaus:
        assert x.impl == "dsp" and x.weight_bits is not None and 2 <= x.weight_bits <= 8
        assert x.mw % x.simd == 0 and x.mh % x.pe == 0 and x.simd < x.mw
        assert x.cycles % ((x.mh // x.pe) * (x.mw // x.simd)) == 0


@pytest.mark.slow
def test_foreign_model_with_biases_matches(tmp_path, fmnist_test_images):
    from tiny_models import export_bias_cnn

    from codesign.finn import CompileConfig, compile_model

    qonnx_path = export_bias_cnn(tmp_path / "export")
    result = compile_model(
        qonnx_path, CompileConfig(board="zcu104", fps=10_000, prepare_ip=False), tmp_path / "run"
    )
    qonnx = load_qonnx_for_exec(result.qonnx)
    runner = DataflowRunner(result.parent, result.compiled)
    assert np.any(runner.offset != 0)  # the classifier's bias stays on the host, as an Add
    for x in fmnist_test_images[:8]:
        y_qonnx = execute_qonnx(qonnx, x[None])
        got = runner.run(x[None])
        want = integer_outputs(y_qonnx, runner.scale, runner.offset)
        assert np.array_equal(want, got.integers.astype(np.int64))
        assert np.count_nonzero(want) > 0
