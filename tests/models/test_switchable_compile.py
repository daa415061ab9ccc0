"""A frozen switchable model compiles through FINN and runs bit-exactly (golden check)."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import torch

from codesign.finn.compile import compile_model
from codesign.finn.config import CompileConfig
from codesign.finn.golden import (
    DataflowRunner,
    execute_qonnx,
    integer_outputs,
    load_qonnx_for_exec,
)
from codesign.models.arch import CnnArch, StageSpec
from codesign.models.export import export_qonnx
from codesign.models.switchable import SwitchableCNN, SwitchSpace


def test_frozen_mixed_choice_compiles_bit_exactly(tmp_path):
    arch = CnnArch(stages=(StageSpec(4, stride=2),), num_classes=4, input_size=8)
    # the input width switched with the first layer: [in4 W2A2, in4 W4A4, in8 W2A2, in8 W4A4]
    space = SwitchSpace.uniform(arch, [(2, 2), (4, 4)], input_bits=8, input_candidates=[4, 8])
    torch.manual_seed(0)
    net = SwitchableCNN(arch, space)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(64, 1, 8, 8, generator=gen)  # (B, 1, 8, 8)
    for layer in net.layers[:-1]:
        for option in layer.options:  # BN far from identity, activations alive at 2 bits
            option.bn.momentum = None
            option.bn.weight.data = torch.rand(4, generator=gen) + 0.5
            option.bn.bias.data = torch.rand(4, generator=gen) + 0.5
    net.train()
    with torch.no_grad():  # BN statistics for both options
        net(x, torch.stack([torch.randint(0, n, (64,), generator=gen) for n in space.sizes], 1))
    net.eval()
    choice = [0, 1]  # 4-bit input, W2A2 conv, W4 classifier
    plain = net.freeze(choice)
    assert plain.bits.input_bits == 4
    with contextlib.redirect_stdout(io.StringIO()):
        qonnx = export_qonnx(plain, tmp_path / "qonnx")
    result = compile_model(qonnx, CompileConfig(board="pynq-z2", fps=100_000), tmp_path / "run")
    parent = load_qonnx_for_exec(result.qonnx)
    runner = DataflowRunner(result.parent, result.compiled)
    scale = np.float64(plain.output_scale())
    frames = x[:6].numpy()
    with torch.no_grad():
        want = net(x[:6], torch.tensor(choice)).numpy()  # the switchable model at that choice
    got_qonnx = np.concatenate([execute_qonnx(parent, f[None]) for f in frames])
    want_int = integer_outputs(want, scale, np.float64(0))
    assert np.array_equal(want_int, integer_outputs(got_qonnx, scale, np.float64(0)))
    for f in frames:
        out = runner.run(f[None])
        ref = integer_outputs(execute_qonnx(parent, f[None]), runner.scale, runner.offset)
        assert np.array_equal(ref, out.integers.astype(np.int64))
    assert np.count_nonzero(want_int) > want_int.size // 2
