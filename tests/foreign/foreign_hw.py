"""One foreign model through the hardware loop: compile -> Verilator (bit-exact, backpressure)
-> Yosys. Shared by the foreign-model tests."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


@dataclass(frozen=True)
class HardwareRun:
    """One foreign model through the whole loop."""

    run_dir: Path
    op_types: frozenset[str]
    sim: object
    synth: object
    estimates: object


def fmnist(n: int, side: int = 28) -> np.ndarray:
    """``n`` Fashion-MNIST test images, ``(n, 1, side, side)`` float32 in [0, 1]."""
    from codesign.data.datasets import load_dataset

    images = load_dataset("fashion_mnist", "test").images[:n].astype(np.float32) / 255.0
    if side != 28:
        images = images[:, ::3, ::3][:, :side, :side]
    return np.ascontiguousarray(images[:, None])


def run_hardware(
    model: torch.nn.Module,
    qonnx: Path,
    out: Path,
    images: np.ndarray,
    *,
    board: str = "pynq-z2",
    fps: float = 20_000,
    ready_pct: int = 50,
    per_layer_ops: tuple[str, ...] = (),
    impl: str = "dsp",
) -> HardwareRun:
    """Compile, simulate under backpressure (bit-exact vs FINN and Brevitas), synthesize."""
    from qonnx.core.modelwrapper import ModelWrapper

    from codesign.finn import CompileConfig, compile_model
    from codesign.finn.golden import integer_outputs, run_tail_affine
    from codesign.settings import Settings
    from codesign.sim import simulate
    from codesign.synth import synthesize

    run = compile_model(qonnx, CompileConfig(board=board, fps=fps, impl=impl), out / "run")
    compiled = ModelWrapper(str(run.compiled))
    op_types = frozenset(n.op_type for n in compiled.graph.node)

    sim = simulate(run.run_dir, images, ready_pct=ready_pct)
    assert sim.bit_exact
    np.testing.assert_array_equal(sim.outputs, sim.expected)
    scale, offset = run_tail_affine(run.run_dir / "parent.onnx")
    with torch.no_grad():
        logits = model(torch.from_numpy(images)).numpy()
    brevitas = integer_outputs(logits, scale, offset).reshape(sim.outputs.shape)
    np.testing.assert_array_equal(sim.outputs, brevitas)
    assert len(np.unique(sim.outputs)) > 3  # not a constant output

    settings = Settings.from_env({**os.environ})
    per_layer = [n.name for n in compiled.graph.node if n.op_type in per_layer_ops]
    report = synthesize(run.run_dir, per_layer=False, settings=settings)
    assert report.whole is not None
    assert report.whole.resources.lut > 0
    if per_layer:  # the nodes that share rtllib files, each on its own
        layers = synthesize(
            run.run_dir, per_layer=True, whole=False, nodes=per_layer, settings=settings
        )
        assert [r.name for r in layers.layers] == per_layer
    return HardwareRun(run.run_dir, op_types, sim, report, run.estimates)
