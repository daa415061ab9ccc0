"""Fixtures of the fault-injection suite: tiny inputs and a sandbox of user files."""

from __future__ import annotations

from pathlib import Path

import pytest
from faults import TINY_FLOW, Inputs, invoke, write_user_files


@pytest.fixture(scope="session")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    """A tiny W4A4 CNN as QONNX and as a checkpoint, its compile, and a tiny flow run."""
    import torch

    from codesign.data import load_dataset
    from codesign.errors import DatasetMissingError
    from codesign.finn import CompileConfig, compile_model
    from codesign.models.bits import BitConfig
    from codesign.models.cnn import CnnArch, StageSpec, build_cnn
    from codesign.models.export import export_qonnx
    from codesign.train.checkpoint import save_checkpoint

    root = tmp_path_factory.mktemp("reliability_inputs")
    torch.manual_seed(0)
    arch = CnnArch(stages=(StageSpec(width=4, kernel=3, stride=2),), num_classes=4, input_size=8)
    bits = BitConfig.uniform(arch.n_layers, 4, 4, input_bits=4)
    model = build_cnn(arch, bits)
    onnx_path = export_qonnx(model, root / "qonnx")
    ckpt = save_checkpoint(root / "tiny.pt", model, arch, bits)
    compiled = compile_model(onnx_path, CompileConfig(board="pynq-z2", fps=100_000), root / "c")
    flow_file = root / "tiny.yaml"
    flow_file.write_text(TINY_FLOW)
    flow_run = root / "flowrun"
    try:
        load_dataset("fashion_mnist", "test")
    except DatasetMissingError as err:
        pytest.skip(str(err))
    res = invoke(["run", str(flow_file), "--out", str(flow_run)], root)
    assert res.code == 0, res.stderr
    return Inputs(root, Path(onnx_path).parent, ckpt, compiled.run_dir, flow_run, flow_file)


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """``tmp_path/work``: a folder of user files, the working folder of each command."""
    work = tmp_path / "work"
    work.mkdir()
    write_user_files(work)
    return work
