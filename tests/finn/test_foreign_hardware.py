"""A foreign Brevitas model (plain ``brevitas.nn`` layers) goes through the whole no-Vivado
hardware loop like the family's models: compile, Verilator bit-exact, Yosys."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from tiny_models import export_tiny

pytestmark = [pytest.mark.verilator, pytest.mark.yosys, pytest.mark.slow]


def test_foreign_model_compiles_simulates_and_synthesizes(tmp_path: Path) -> None:
    import torch

    from codesign.data.datasets import load_dataset
    from codesign.errors import DatasetMissingError
    from codesign.finn import CompileConfig, compile_model
    from codesign.finn.golden import integer_outputs, run_tail_affine
    from codesign.settings import Settings
    from codesign.sim import simulate
    from codesign.synth import synthesize

    try:
        images = load_dataset("fashion_mnist", "test").images[:4, None].astype(np.float32) / 255.0
    except DatasetMissingError as err:
        pytest.skip(str(err))  # the message gives the fix
    model, qonnx = export_tiny(tmp_path / "export", bits=(8, (4, 4), (3, 3), 5))
    run = compile_model(qonnx, CompileConfig(board="pynq-z2", fps=20_000), tmp_path / "run")

    result = simulate(run.run_dir, images)
    assert result.bit_exact
    np.testing.assert_array_equal(result.outputs, result.expected)
    scale, offset = run_tail_affine(run.run_dir / "parent.onnx")
    with torch.no_grad():
        logits = model(torch.from_numpy(images)).numpy()
    brevitas = integer_outputs(logits, scale, offset).reshape(result.outputs.shape)
    np.testing.assert_array_equal(result.outputs, brevitas)
    assert len(np.unique(result.outputs)) > 4

    settings = Settings.from_env({**os.environ, "CODESIGN_CACHE": str(tmp_path / "cache")})
    report = synthesize(run.run_dir, per_layer=False, settings=settings)
    assert report.whole is not None
    whole = report.whole.resources
    mvaus = [n for n, op in report.op_types.items() if op == "MVAU_rtl"]
    assert len(mvaus) == 3  # two convs and the classifier, all RTL
    assert whole.lut > 100 and whole.dsp >= len(mvaus)
