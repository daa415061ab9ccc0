"""The elastic supernet: importance sorting keeps every subnet, extraction gives a family model
that matches the supernet and compiles all-RTL like any other."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from codesign.cost.protocol import Impl
from codesign.errors import ConfigError
from codesign.models.cnn import QuantCNN
from codesign.models.prune import channel_ranking
from codesign.search.space import Arch, SearchSpace, StageChoices
from codesign.search.supernet import (
    Supernet,
    extract_subnet,
    recalibrate_bn,
    subnet_accuracy,
    train_supernet,
)

FLOWS = Path(__file__).resolve().parents[2] / "flows"
SPACE = SearchSpace(
    stages=(
        StageChoices(depths=(1, 2), widths=(4, 6, 8), kernels=(3, 5)),
        StageChoices(depths=(1, 2), widths=(4, 8), kernels=(3,)),
    ),
    weight_bits=(3, 4, 8),
    act_bits=(3, 4, 8),
    num_classes=4,
    input_size=12,
)


def _toy_data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A learnable 4-class toy set: the class sets which quadrant is bright."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (n,), generator=gen)  # (N,)
    x = 0.3 * torch.rand(n, 1, 12, 12, generator=gen)  # (N, 1, 12, 12)
    for q in range(4):
        r, c = divmod(q, 2)
        x[labels == q, :, r * 6 : r * 6 + 6, c * 6 : c * 6 + 6] += 0.6
    return x.clamp(0, 1), labels


@pytest.fixture(scope="module")
def trained() -> tuple[Supernet, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    net = Supernet(SPACE)
    x, y = _toy_data(1024, 0)
    train_supernet(net, x, y, epochs=2, seed=0, batch_size=64)
    return net, x, y


def test_sorting_channels_keeps_every_subnet(trained: tuple) -> None:
    net, x, _ = trained
    archs = [SPACE.sample(np.random.default_rng(s)) for s in range(6)] + [SPACE.smallest()]
    before = []
    for arch in archs:
        recalibrate_bn(net, arch, x[:256])
        before.append(net.eval()(x[:64], arch))
    net.sort_channels()
    for arch, ref in zip(archs, before, strict=True):
        recalibrate_bn(net, arch, x[:256])
        torch.testing.assert_close(net.eval()(x[:64], arch), ref, atol=1e-5, rtol=1e-5)


def test_sorted_slot_keeps_its_largest_l1_channels(trained: tuple) -> None:
    net, _, _ = trained
    net.sort_channels()
    # Depths (1, 2): both slots of stage 0 may end it, so they share one order, by the sum of
    # their channels' L1 norms: sorted, the ranking is the identity.
    stacked = torch.cat([net.convs[0].flatten(1), net.convs[1].flatten(1)], dim=1)
    assert channel_ranking(stacked).tolist() == list(range(SPACE.stages[0].max_width))


def test_subnets_learn_and_extraction_matches_the_supernet(trained: tuple) -> None:
    net, x, y = trained
    xv, yv = _toy_data(512, 1)
    for arch in (SPACE.largest(), SPACE.smallest(), SPACE.sample(np.random.default_rng(7))):
        acc = subnet_accuracy(net, arch, x[:256], xv, yv)
        assert acc > 0.6, (arch, acc)  # chance is 0.25
        arch8 = SPACE.with_uniform_bits(arch, 8, 8)
        model = extract_subnet(net, arch8, x[:256])
        assert isinstance(model, QuantCNN)
        assert model.arch == SPACE.to_cnn_arch(arch)
        with torch.no_grad():
            agree = (model(xv).argmax(1) == net.eval()(xv, arch).argmax(1)).float().mean()
        assert agree > 0.9  # 8-bit weights and activations of the same function


@pytest.mark.slow
def test_an_extracted_mixed_precision_subnet_compiles_all_rtl_with_its_impls(
    trained: tuple, tmp_path: Path
) -> None:
    """The search's hardware path: candidate flow + flow/from_model with the step registry.

    Each layer compiles to the MVU the arch chose (the flow's per-layer ``impl``).
    """
    from codesign.flow.config import load_flow_config
    from codesign.flow.from_model import model_hardware
    from codesign.flow.steps import STEPS
    from codesign.runfolder import RunFolder
    from codesign.search.run import SearchTarget, candidate_flow

    net, x, _ = trained
    arch = Arch(
        depths=(2, 1),
        widths=(6, 4, 8, 4),
        kernels=(5, 3, 3, 3),
        weight_bits=(4, 3, 8, 4, 3),
        act_bits=(3, 4, 4, 8),
        impls=("lut", "dsp", "dsp", "dsp", "lut"),  # slot 1 is inactive (stage 1 has depth 1)
    )
    space = replace(SPACE, impls=(Impl.DSP, Impl.LUT))
    model = extract_subnet(net, replace(arch, impls=("dsp",) * 5), x[:256])
    data = candidate_flow(
        load_flow_config(FLOWS / "apq.yaml"),
        space,
        space.encode(arch),
        SearchTarget("pynq-z2", fps=20_000),
        "subnet",
    )
    (tmp_path / "flow.yaml").write_text(yaml.safe_dump(data))
    flow = load_flow_config(tmp_path / "flow.yaml")
    with pytest.raises(ConfigError, match="reads 'compile_run'"):
        model_hardware(flow, model, tmp_path / "x", registry=STEPS, steps=("synth",))
    result = model_hardware(
        flow, model, tmp_path / "hw", registry=STEPS, steps=("export", "compile")
    )
    assert set(result["seconds"]) == {"export", "compile"}
    layers = RunFolder(tmp_path / "hw" / "compile").estimates().layers
    mvus = [layer for layer in layers if layer.op_type == "MVAU_rtl"]
    assert [m.impl for m in mvus] == ["lut", "dsp", "dsp", "lut"]  # three convs, classifier
    assert all(
        lay.op_type.endswith("_rtl") or lay.op_type.startswith("StreamingFIFO") for lay in layers
    )
