"""network_layers predicts the nodes, folding and cycles that compile produces."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesign.cost.cycles import layer_cycles
from codesign.cost.network import base_layers, folding_of, network_layers, predict_folding
from codesign.cost.protocol import LayerKind
from codesign.models.arch import QUICKSTART_ARCH, CnnArch, StageSpec
from codesign.models.bits import BitConfig, LayerBits

NETWORKS = {
    "quickstart_w4a4": (QUICKSTART_ARCH, BitConfig.uniform(QUICKSTART_ARCH.n_layers, 4, 4)),
    "mixed_k5_s1": (
        CnnArch(stages=(StageSpec(6, 5, 1), StageSpec(12, 3, 2)), num_classes=5, input_size=10),
        BitConfig(6, (LayerBits(8, 3), LayerBits(2, 6), LayerBits(5, None))),
    ),
}


@pytest.fixture(scope="module")
def specialized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each network compiled up to specialize_layers (before folding)."""
    import torch

    from codesign.finn import CompileConfig, compile_model
    from codesign.models.cnn import build_cnn
    from codesign.models.export import export_qonnx

    out = {}
    for name, (arch, bits) in NETWORKS.items():
        root = tmp_path_factory.mktemp(name)
        torch.manual_seed(0)
        qonnx = export_qonnx(build_cnn(arch, bits), root / "qonnx")
        run = compile_model(
            qonnx,
            CompileConfig(board="pynq-z2", fps=1000),
            root / "run",
            stop_step="specialize_layers",
        )
        out[name] = run.run_dir
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_folding_and_cycles_match_compile(name: str, specialized: dict[str, Path]) -> None:
    from finn.analysis.fpgadataflow.exp_cycles_per_layer import exp_cycles_per_layer
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from codesign.finn.folding import fold
    from codesign.finn.steps import STEP_NAMES, intermediate_name

    arch, bits = NETWORKS[name]
    index = STEP_NAMES.index("specialize_layers")
    model = ModelWrapper(
        str(specialized[name] / "intermediate" / intermediate_name(index + 1, "specialize_layers"))
    )
    base = base_layers(arch, bits)
    assert [n.name for n in model.graph.node] == [s.name for s in base]
    # threshold sets as extracted (an untrained export: one shared set; float input first)
    from codesign.cost.extract import compiled_specs
    from codesign.cost.protocol import LayerKind

    untrained = {s.name: s for s in base_layers(arch, bits, per_channel_thresholds=False)}
    path = specialized[name] / "intermediate" / intermediate_name(index + 1, "specialize_layers")
    thresholds = [s for s in compiled_specs(path) if s.kind is LayerKind.THRESHOLDING]
    assert thresholds and dict(thresholds[0].extra).get("fp") == 1.0
    for spec in thresholds:
        got, want = dict(spec.extra), dict(untrained[spec.name].extra)
        assert (got["trows"], got.get("fp")) == (want["trows"], want.get("fp")), spec.name
    for target in (1, 300, 1000, 5000, 10**9):
        folded = fold(model, target)
        predicted = predict_folding(base, target)
        want = {}
        for node in folded.graph.node:
            inst = getCustomOp(node)
            attrs = {
                a: int(inst.get_nodeattr(a))
                for a in ("PE", "SIMD", "parallel_window")
                if a in inst.get_nodeattr_types()
            }
            want[node.name] = attrs
        got = folding_of(predicted)
        for node, attrs in got.items():
            assert {k: want[node][k] for k in attrs} == attrs, (target, node)
        cycles = folded.analysis(exp_cycles_per_layer)
        assert {s.name: layer_cycles(s) for s in predicted} == {
            k: int(v) for k, v in cycles.items()
        }, target


def test_quickstart_nodes_as_compiled() -> None:
    """The node list of the quickstart compile at 10,000 FPS (checked against a real run)."""
    bits = BitConfig.uniform(QUICKSTART_ARCH.n_layers, 4, 4)
    specs = network_layers(QUICKSTART_ARCH, bits, fps=10_000, clock_ns=10.0)
    assert len(specs) == 35
    assert sum(s.kind is LayerKind.FIFO for s in specs) == 18
    assert sum(s.kind is LayerKind.DWC for s in specs) == 3
    assert max(layer_cycles(s) for s in specs) == 9408
    mvau = [s for s in specs if s.kind is LayerKind.MVAU]
    assert [(s.pe, s.simd) for s in mvau] == [(1, 3), (1, 6), (1, 4), (1, 1)]


def test_a_folding_dict_reproduces_the_predicted_folding() -> None:
    arch, bits = NETWORKS["mixed_k5_s1"]
    predicted = network_layers(arch, bits, target_cycles=300)
    folding = folding_of(predicted)
    assert network_layers(arch, bits, folding=folding) == predicted
    from codesign.errors import ConfigError

    with pytest.raises(ConfigError, match="give exactly one of folding, fps or target_cycles"):
        network_layers(arch, bits)
    bad = {**folding, "MVAU_rtl_0": {"PE": 5, "SIMD": 1}}
    with pytest.raises(ConfigError, match="do not divide"):
        network_layers(arch, bits, folding=bad)
