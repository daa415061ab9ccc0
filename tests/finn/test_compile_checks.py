"""Compile errors: unsupported nodes, infeasible targets, bad inputs; folding guard; resume."""

from __future__ import annotations

import re
import shutil

import pytest
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from tiny_models import export_tiny

from codesign.errors import ConfigError, InfeasibleError, UnsupportedModelError
from codesign.finn.compile import compile_model
from codesign.finn.config import CompileConfig
from codesign.finn.inputs import parse_bits
from codesign.finn.transforms import AvoidFullSimdMvau, largest_proper_divisor


def _no_leftovers(parent_dir):
    # A failed compile removes the parents it created (runs/), or leaves no hidden work folder.
    return not parent_dir.exists() or not [p for p in parent_dir.iterdir() if p.name[0] == "."]


@pytest.mark.slow
def test_avgpool_fails_early_naming_node_and_fix(tmp_path):
    _, qonnx = export_tiny(tmp_path / "export", pool="avg")
    run = tmp_path / "runs" / "pool"
    with pytest.raises(UnsupportedModelError) as err:
        compile_model(qonnx, CompileConfig(board="pynq-z2", fps=1000), run)
    msg = str(err.value)
    assert "after conversion to HW layers" in msg
    assert re.search(r"\w*Pool\w* \(\w*Pool\w*\): average pooling is HLS-only", msg), msg
    assert "max pooling only" in msg and "stride-2 convolution" in msg
    assert not run.exists() and _no_leftovers(run.parent)


@pytest.mark.slow
def test_maxpool_compiles_all_rtl(tmp_path):
    _, qonnx = export_tiny(tmp_path / "export", pool=True)
    cfg = CompileConfig(board="pynq-z2", fps=1000, prepare_ip=False)
    result = compile_model(qonnx, cfg, tmp_path / "run")
    ops = [layer.op_type for layer in result.estimates.layers]
    assert "Pool_rtl" in ops and all(op.endswith("_rtl") for op in ops)


@pytest.mark.slow
def test_infeasible_fps_gives_best_achievable(tmp_path):
    _, qonnx = export_tiny(tmp_path / "export")
    run = tmp_path / "runs" / "fast"
    with pytest.raises(InfeasibleError) as err:
        compile_model(qonnx, CompileConfig(board="pynq-z2", fps=1e6), run)
    msg = str(err.value)
    best = float(re.search(r"best achievable is ([\d.]+) FPS", msg).group(1))
    assert "needs <= 100 cycles per frame at 100 MHz" in msg
    assert 1e3 < best < 1e6
    assert not run.exists() and _no_leftovers(run.parent)
    # the best achievable rate is in fact achievable
    ok = compile_model(
        qonnx, CompileConfig(board="pynq-z2", fps=best * 0.999, prepare_ip=False), run
    )
    assert ok.estimates.fps >= best * 0.999


@pytest.mark.slow
def test_lut_budget_folds_within_budget_or_raises(tmp_path):
    # FINN counts RTL MVAU LUTs as 0, so this tiny design's LUT estimate is ~1,020 at any
    # folding: a budget below that cannot be met, one above gets the fastest folding.
    _, qonnx = export_tiny(tmp_path / "export")
    with pytest.raises(InfeasibleError, match="even fully folded .* over the LUT budget 900"):
        compile_model(qonnx, CompileConfig(board="pynq-z2", lut_budget=900), tmp_path / "r0")
    fit = compile_model(
        qonnx, CompileConfig(board="pynq-z2", lut_budget=1100, prepare_ip=False), tmp_path / "r1"
    )
    with pytest.raises(InfeasibleError) as err:
        compile_model(qonnx, CompileConfig(board="pynq-z2", fps=1e6), tmp_path / "r2")
    fastest = float(re.search(r"best achievable is ([\d.]+) FPS", str(err.value))[1])
    assert fit.estimates.total.lut <= 1100
    assert fit.estimates.fps == pytest.approx(fastest, rel=1e-3)


def test_over_capacity_gives_best_fitting_fps(compiled):
    from codesign.finn.folding import FoldTarget, fold_to_fps, total_resources
    from codesign.resources import Resources

    run = compiled["uniform4@pynq-z2"].result.run_dir
    model = ModelWrapper(str(run / "intermediate" / "08_specialize_layers.onnx"))
    target = FoldTarget(
        part="xc7z020clg400-1",
        clock_ns=10.0,
        capacity=Resources(lut=53200, ff=106400, bram18=280, dsp=12),
    )
    with pytest.raises(InfeasibleError, match="over the capacity") as err:
        fold_to_fps(model, 50_000, target)
    best = float(re.search(r"best achievable that fits is ([\d.]+) FPS", str(err.value))[1])
    assert 0 < best < 50_000
    folded = fold_to_fps(model, best * 0.999, target)
    assert total_resources(folded, target.part).dsp <= 12


def _mvau_lut_estimate(model, part):
    """FINN's estimate plus 40 LUTs per multiplier lane of every RTL MVAU (which FINN counts
    as 0): a stand-in for a calibrated cost model."""
    from codesign.finn.folding import finn_estimate
    from codesign.resources import Resources

    lanes = sum(
        getCustomOp(n).get_nodeattr("PE") * getCustomOp(n).get_nodeattr("SIMD")
        for n in model.get_nodes_by_op_type("MVAU_rtl")
    )
    return finn_estimate(model, part) + Resources(lut=40.0 * lanes)


def test_lut_budget_uses_the_injected_estimator(compiled):
    from codesign.finn.folding import FoldTarget, bottleneck, finn_estimate, fold_to_lut_budget
    from codesign.resources import Resources

    run = compiled["uniform4@pynq-z2"].result.run_dir
    model = ModelWrapper(str(run / "intermediate" / "08_specialize_layers.onnx"))
    target = FoldTarget(
        part="xc7z020clg400-1",
        clock_ns=10.0,
        capacity=Resources(lut=53200, ff=106400, bram18=280, dsp=220),
    )
    fastest = fold_to_lut_budget(model, 10**6, target)  # FINN's estimate: anything fits
    budget = int(finn_estimate(fastest, target.part).lut) + 200
    by_finn = fold_to_lut_budget(model, budget, target)
    calls = []

    def estimate(m, part):
        calls.append(part)
        return _mvau_lut_estimate(m, part)

    by_model = fold_to_lut_budget(model, budget, target, estimate)
    assert calls and set(calls) == {target.part}
    assert _mvau_lut_estimate(by_model, target.part).lut <= budget
    assert _mvau_lut_estimate(by_finn, target.part).lut > budget  # FINN's 0 LUTs misled it
    assert bottleneck(by_model)[1] > bottleneck(by_finn)[1]  # so the injected one folds more
    with pytest.raises(InfeasibleError, match="by the injected estimate: over the LUT budget"):
        fold_to_lut_budget(model, 10, target, estimate)


def test_a_cost_model_prices_the_folding(compiled):
    from codesign.cost.protocol import CostModel, DesignCost, LayerCost
    from codesign.finn.folding import cost_model_estimator
    from codesign.resources import Resources

    class PerNode:
        version = "test-1"

        def layer_cost(self, layer):
            return LayerCost(Resources(lut=10.0), cycles=1)

        def design_cost(self, layers):
            return DesignCost(Resources(lut=10.0 * len(layers)), cycles=1)

    assert isinstance(PerNode(), CostModel)
    run = compiled["uniform4@pynq-z2"].result.run_dir
    model = ModelWrapper(str(run / "compiled.onnx"))
    estimate = cost_model_estimator(PerNode(), lambda m: list(m.graph.node))
    assert estimate(model, "xc7z020clg400-1").lut == 10.0 * len(model.graph.node)


def test_simd_guard_changes_what_setfolding_alone_produces(compiled):
    from finn.transformation.fpgadataflow.set_folding import SetFolding

    from codesign.finn.folding import fold

    run = compiled["mixed@zcu104"].result.run_dir
    model = ModelWrapper(str(run / "intermediate" / "08_specialize_layers.onnx"))
    target = int(1e9 / 5.0 / 200_000)

    def full_simd(m):
        return [
            n.name
            for n in m.get_nodes_by_op_type("MVAU_rtl")
            if getCustomOp(n).get_nodeattr("SIMD") == getCustomOp(n).get_nodeattr("MW")
        ]

    assert full_simd(model.transform(SetFolding(target, two_pass_relaxation=True)))
    assert full_simd(fold(model, target)) == []


def test_simd_guard_keeps_cycles(compiled):
    model = ModelWrapper(str(compiled["uniform4@pynq-z2"].result.compiled))
    node = model.get_nodes_by_op_type("MVAU_rtl")[1]
    inst = getCustomOp(node)
    inst.set_nodeattr("SIMD", inst.get_nodeattr("MW"))
    before = inst.get_exp_cycles()
    model = model.transform(AvoidFullSimdMvau())
    inst = getCustomOp(model.get_node_from_name(node.name))
    assert inst.get_nodeattr("SIMD") == largest_proper_divisor(inst.get_nodeattr("MW"))
    assert inst.get_exp_cycles() <= before
    assert [largest_proper_divisor(n) for n in (1, 7, 9, 36, 256)] == [1, 1, 3, 18, 128]


def test_corrupt_onnx_is_a_config_error(tmp_path):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"\x08\x07this is not a protobuf\xff\xff")
    with pytest.raises(ConfigError, match="is not a readable ONNX model"):
        compile_model(bad, CompileConfig(board="pynq-z2", fps=100), tmp_path / "run")
    with pytest.raises(ConfigError, match="does not exist"):
        compile_model(
            tmp_path / "nope.onnx", CompileConfig(board="pynq-z2", fps=100), tmp_path / "run"
        )
    assert not (tmp_path / "run").exists()


def test_config_errors():
    with pytest.raises(ConfigError, match="exactly one of `fps`"):
        CompileConfig.from_dict({"board": "pynq-z2", "fps": 10, "lut_budget": 10})
    with pytest.raises(ConfigError, match="fpss: Extra inputs are not permitted"):
        CompileConfig.from_dict({"board": "pynq-z2", "fpss": 10})
    with pytest.raises(ConfigError, match="fps: Input should be greater than 0"):
        CompileConfig.from_dict({"board": "pynq-z2", "fps": -1})
    with pytest.raises(ConfigError, match="not allowed; choose one of 2, 3, 4, 5, 6, 8"):
        parse_bits("w7a4", 4)
    with pytest.raises(ConfigError, match="neither a YAML file nor a uniform spec"):
        parse_bits("four", 4)
    assert parse_bits("w4a2i8", 4).weight_bits == (4, 4, 4, 4)
    assert parse_bits("3", 2).act_bits == (3, None)


def test_unknown_board_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown board 'nope'"):
        compile_model(tmp_path / "m.onnx", CompileConfig(board="nope", fps=1), tmp_path / "r")


def test_resume_from_folding_and_stop_early(compiled, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(compiled["uniform4@pynq-z2"].result.run_dir, run)
    before = compiled["uniform4@pynq-z2"].result.estimates
    slower = compile_model(
        run / "unused.onnx",
        CompileConfig(board="pynq-z2", fps=2_000, prepare_ip=False),
        run,
        start_step="set_folding",
        stop_step="estimates",
    )
    assert slower.estimates.fps < before.fps and slower.estimates.fps >= 2_000
    assert slower.compiled is None and not (run / "compiled.onnx").exists()
    assert "set_folding" in slower.step_seconds and "streamline" not in slower.step_seconds
    assert (run / "intermediate" / "11_estimates.onnx").is_file()
    with pytest.raises(ConfigError, match="unknown start step 'fold'"):
        compile_model(run, CompileConfig(board="pynq-z2", fps=1), run, start_step="fold")


@pytest.mark.slow
def test_w1a1_xnor_layers_are_named_with_the_fix(tmp_path):
    from tiny_models import export_binary_mlp

    qonnx = export_binary_mlp(tmp_path / "export")
    with pytest.raises(UnsupportedModelError) as err:
        compile_model(qonnx, CompileConfig(board="zcu104", fps=1000), tmp_path / "run")
    msg = str(err.value)
    assert msg.startswith("2 node(s) cannot become RTL")
    assert "MVAU_0 (MVAU): W1A1 (XNOR-popcount) layers have no DSP-based RTL MVU" in msg
    assert "MVAU_1 (MVAU)" in msg and "--impl lut or auto" in msg
