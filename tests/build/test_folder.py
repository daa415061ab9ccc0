"""The build folder: folding/FIFO configs match the design, and FINN's own steps accept it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codesign.boards import load_board
from codesign.build.config import BUILD_STEPS
from codesign.build.folder import prepare_build
from codesign.build.folding import (
    CODEGEN_ATTRS,
    check_folding_config,
    extract_folding_config,
)
from codesign.errors import ConfigError

FIFO = "StreamingFIFO_rtl"


def _model(path: Path):  # noqa: ANN202 - a qonnx ModelWrapper
    from qonnx.core.modelwrapper import ModelWrapper

    return ModelWrapper(str(path))


def _sized_config(run: Path, extra: int = 30) -> dict[str, int]:
    """Write RUN/folding_config.json as `codesign simulate` does, every FIFO made deeper."""
    model = _model(run / "compiled.onnx")
    cfg = extract_folding_config(model)
    depths = {}
    for i, node in enumerate(model.get_nodes_by_op_type(FIFO)):
        depths[node.name] = cfg[node.name]["depth"] + extra + i
        cfg[node.name]["depth"] = depths[node.name]
    (run / "folding_config.json").write_text(json.dumps(cfg))
    return depths


def test_check_accepts_the_design_own_config(compiled_run: Path) -> None:
    model = _model(compiled_run / "compiled.onnx")
    cfg = json.loads(json.dumps(extract_folding_config(model)))  # as read back from JSON
    depths = check_folding_config(model, cfg)
    fifos = [n.name for n in model.get_nodes_by_op_type(FIFO)]
    assert fifos and sorted(depths) == sorted(fifos)
    assert any(n.op_type == "MVAU_rtl" for n in model.graph.node)


def test_check_lists_every_mismatch(compiled_run: Path) -> None:
    model = _model(compiled_run / "compiled.onnx")
    cfg = extract_folding_config(model)
    mvau = next(n.name for n in model.graph.node if n.op_type == "MVAU_rtl")
    fifo = model.get_nodes_by_op_type(FIFO)[0].name
    cfg[mvau]["PE"] = cfg[mvau]["PE"] * 2
    cfg["NoSuchNode_0"] = {"PE": 1}
    cfg[mvau]["Bogus"] = 1
    del cfg[fifo]["depth"]
    cfg["Defaults"] = {"PE": [2, ["MVAU_rtl"]]}
    with pytest.raises(ConfigError) as err:
        check_folding_config(model, cfg, source="f.json")
    msg = str(err.value)
    assert msg.startswith("f.json does not match the compiled design: ")
    assert f"{mvau}.PE = {cfg[mvau]['PE']} but the compiled model has {cfg[mvau]['PE'] // 2}" in msg
    assert "node NoSuchNode_0 is not in the compiled model" in msg
    assert f"{mvau} (MVAU_rtl) has no attribute 'Bogus'" in msg
    assert f"FIFO {fifo} has no depth" in msg
    assert "'Defaults' are not empty" in msg


def test_check_rejects_a_bad_depth(compiled_run: Path) -> None:
    model = _model(compiled_run / "compiled.onnx")
    cfg = extract_folding_config(model)
    fifo = model.get_nodes_by_op_type(FIFO)[0].name
    cfg[fifo]["depth"] = 1
    with pytest.raises(ConfigError, match=rf"{fifo}.depth = 1: a FIFO depth is an integer >= 2"):
        check_folding_config(model, cfg)


def test_missing_folding_config_is_a_clear_error(run_copy: Path, tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"folding_config.json is missing: size the FIFOs in "
        r"Verilator first .*--unsized-fifos",
    ):
        prepare_build(run_copy, load_board("pynq-z2"), tmp_path / "b", write_rtl=False)


def test_wrong_board_is_a_clear_error(run_copy: Path, tmp_path: Path) -> None:
    _sized_config(run_copy)
    with pytest.raises(ConfigError, match="compiled for xc7z020clg400-1 but board ZCU104"):
        prepare_build(run_copy, load_board("zcu104"), tmp_path / "b", write_rtl=False)


def test_build_folder_contents(run_copy: Path, tmp_path: Path) -> None:
    from finn.builder.build_dataflow_config import DataflowBuildConfig
    from qonnx.custom_op.registry import getCustomOp

    depths = _sized_config(run_copy)
    out = tmp_path / "build"
    folder = prepare_build(run_copy, load_board("pynq-z2"), out)
    assert folder.path == out.resolve() and folder.fifos_sized
    assert folder.fifo_depths == depths
    for name in (
        "build_config.json",
        "build_config.yaml",
        "model.onnx",
        "folding_config.json",
        "fifo_config.json",
        "parent.onnx",
        "qonnx/model.onnx",
        "codesign_build.json",
    ):
        assert (out / name).is_file(), name

    # finn-plus's own loader accepts the folder's config and finds its files.
    for name in ("build_config.json", "build_config.yaml"):
        cfg = DataflowBuildConfig.construct_from(out / name)
        assert cfg.folding_config_file == (out / "folding_config.json").resolve()
        # finn-plus 1.6.1 does not resolve fifo_config_file against the config's folder:
        # it stays relative, which is why the build runs with the folder as working dir.
        assert cfg.fifo_config_file == Path("fifo_config.json")
        assert (out / cfg.fifo_config_file).is_file()
        assert cfg.steps == list(BUILD_STEPS) and cfg.auto_fifo_depths is False

    # The model carries the Verilator depths and no stale code-generation paths.
    model = _model(out / "model.onnx")
    fifos = model.get_nodes_by_op_type(FIFO)
    assert {n.name: getCustomOp(n).get_nodeattr("depth") for n in fifos} == depths
    for node in model.graph.node:
        inst = getCustomOp(node)
        for attr in CODEGEN_ATTRS:
            if attr in inst.get_nodeattr_types():
                assert inst.get_nodeattr(attr) == "", (node.name, attr)
        producer = model.find_producer(node.input[0])
        if node.op_type == FIFO and producer is not None:
            assert getCustomOp(producer).get_nodeattr("outFIFODepths")[0] == depths[node.name]

    fifo_cfg = json.loads((out / "fifo_config.json").read_text())
    assert fifo_cfg["fifo_depths"] == depths
    assert set(fifo_cfg["impl_style"]) == set(depths)

    # rtl/: each FIFO's RTL generated at its new depth.
    for name, depth in depths.items():
        [wrapper] = (out / "rtl").glob(f"code_gen_ipgen_{name}_*/{name}.v")
        assert f".DEPTH({depth})" in wrapper.read_text().replace(" ", ""), name


def test_finn_steps_leave_the_model_unchanged(run_copy: Path, tmp_path: Path) -> None:
    """What step_apply_folding_config and step_set_fifo_depths do, on the folder's model.

    The builder cannot be imported without Vivado, but its two steps that touch the graph
    before code generation are made of transformations that can: replaying them must not
    change a node, a name or a depth (so the design built is the design simulated).
    """
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.insert_fifo import InsertFIFO
    from finn.transformation.fpgadataflow.set_fifo_depths import ApplyFIFODepthsFromFile
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from finn.transformation.general import ApplyConfig
    from finn.transformation.qonnx.give_unique_node_names_recursive import (
        GiveUniqueNodeNamesRecursive,
    )
    from qonnx.transformation.general import GiveReadableTensorNames

    _sized_config(run_copy)
    out = tmp_path / "build"
    prepare_build(run_copy, load_board("pynq-z2"), out, write_rtl=False)
    before = _model(out / "model.onnx")
    expected = [(n.name, n.op_type) for n in before.graph.node]
    expected_cfg = extract_folding_config(before)

    # step_apply_folding_config
    model = before.transform(GiveUniqueNodeNamesRecursive())
    model = model.transform(ApplyConfig(out / "folding_config.json"))
    # step_set_fifo_depths with auto_fifo_depths=False
    model = model.transform(InsertDWC())
    model = model.transform(InsertFIFO(create_shallow_fifos=True))
    model = model.transform(SpecializeLayers("xc7z020clg400-1"))
    model = model.transform(GiveUniqueNodeNamesRecursive())
    model = model.transform(GiveReadableTensorNames())
    model = model.transform(ApplyFIFODepthsFromFile(out / "fifo_config.json"))

    assert [(n.name, n.op_type) for n in model.graph.node] == expected
    assert extract_folding_config(model) == expected_cfg
