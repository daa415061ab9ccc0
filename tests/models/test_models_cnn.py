from __future__ import annotations

import brevitas.nn as qnn
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from codesign.errors import ConfigError
from codesign.models.bits import BitConfig, LayerBits
from codesign.models.cnn import (
    QUICKSTART_ARCH,
    CnnArch,
    StageSpec,
    build_cnn,
    conv_output_size,
)
from codesign.models.quant import input_scale, quantize_input

MIXED = BitConfig(
    input_bits=6,
    layers=(LayerBits(3, 5), LayerBits(5, 2), LayerBits(8, 6), LayerBits(2)),
)


def test_quickstart_shapes_and_names() -> None:
    arch = QUICKSTART_ARCH
    assert arch.layer_names() == ["conv0", "conv1", "conv2", "fc"]
    assert arch.n_layers == 4
    assert arch.feature_sizes() == (14, 7, 4)
    assert arch.classifier_in_features == 16 * 4 * 4
    torch.manual_seed(0)
    model = build_cnn(arch, BitConfig.uniform(arch.n_layers, 4, 4)).eval()
    x = torch.rand(5, 1, 28, 28)  # (B, C, H, W)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (5, 10)
    assert isinstance(y, torch.Tensor)
    assert model.arch is arch
    assert [name for name, _ in model.layers()] == arch.layer_names()


def test_layer_types_are_rtl_friendly() -> None:
    model = build_cnn(QUICKSTART_ARCH, MIXED)
    kinds = {type(m) for m in model.modules() if not list(m.children())}
    # Only leaf types FINN maps to RTL nodes (plus Brevitas' internal quantizer modules).
    assert not any(k in kinds for k in (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d))
    for block, stage in zip(model.features, QUICKSTART_ARCH.stages, strict=True):
        assert isinstance(block.conv, qnn.QuantConv2d)
        assert block.conv.bias is None
        assert block.conv.stride == (stage.stride, stage.stride)
        assert block.conv.padding == (stage.kernel // 2, stage.kernel // 2)
        assert isinstance(block.bn, nn.BatchNorm2d)
        assert isinstance(block.act, qnn.QuantReLU)
    assert isinstance(model.classifier, qnn.QuantLinear)
    assert model.classifier.bias is None


def test_per_layer_bits_are_applied() -> None:
    torch.manual_seed(0)
    model = build_cnn(QUICKSTART_ARCH, MIXED).eval()
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        q = model.input_quant(x)
        assert int(q.bit_width) == 6
        assert not q.signed
        for (_, layer), lb in zip(model.layers(), MIXED.layers, strict=True):
            w = layer.quant_weight()
            assert int(w.bit_width) == lb.weight
            assert w.signed
        for block, lb in zip(model.features, MIXED.layers[:-1], strict=True):
            assert int(block.act.act_quant.bit_width()) == lb.act
            assert not block.act.act_quant.is_signed


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_weights_are_narrow_range(bits: int) -> None:
    torch.manual_seed(1)
    model = build_cnn(QUICKSTART_ARCH, BitConfig.uniform(4, bits, 4))
    limit = 2 ** (bits - 1) - 1
    for _, layer in model.layers():
        ints = layer.quant_weight().int()
        assert int(ints.min()) >= -limit
        assert int(ints.max()) <= limit
        # max-abs scaling puts the largest weight on the grid's end, so MinimizeWeightBitWidth
        # keeps INT<bits> and the narrow range stays visible to finn-plus.
        assert int(ints.abs().max()) == limit


def test_input_scale_is_constant_and_not_learned() -> None:
    model = build_cnn(QUICKSTART_ARCH, BitConfig.uniform(4, 4, 4, input_bits=4))
    assert list(model.input_quant.parameters()) == []
    assert model.input_scale == pytest.approx(1 / 15)
    for mode in (True, False):
        model.train(mode)
        q = model.input_quant(torch.rand(3, 1, 28, 28))
        assert float(q.scale) == pytest.approx(1 / 15, rel=1e-6)


@pytest.mark.parametrize("bits", [2, 3, 4, 5, 6, 8])
def test_quantize_input_matches_brevitas(bits: int, fashion_images: torch.Tensor) -> None:
    model = build_cnn(QUICKSTART_ARCH, BitConfig.uniform(4, 4, 4, input_bits=bits)).eval()
    with torch.no_grad():
        q = model.input_quant(fashion_images)
    ints = quantize_input(fashion_images, bits)
    assert torch.equal(q.int().to(torch.int64), ints)
    assert int(ints.min()) >= 0
    assert int(ints.max()) == 2**bits - 1  # some pixel is white
    assert input_scale(bits) == pytest.approx(float(q.scale), rel=1e-6)
    if bits == 8:  # 8-bit input: the integer is the raw pixel
        raw = torch.round(fashion_images * 255).to(torch.int64)
        assert torch.equal(ints, raw)


def test_pruning_shrinks_widths() -> None:
    base = QUICKSTART_ARCH
    pruned = CnnArch(
        stages=tuple(
            StageSpec(s.width, s.kernel, s.stride, prune_ratio=r)
            for s, r in zip(base.stages, (0.5, 0.25, 0.9), strict=True)
        )
    )
    assert base.widths == (8, 16, 16)
    assert pruned.widths == (4, 12, 2)  # round(8*0.5), round(16*0.75), round(16*0.1 = 1.6)
    assert pruned.classifier_in_features == 2 * 4 * 4
    bits = BitConfig.uniform(4, 4, 4)
    big, small = build_cnn(base, bits), build_cnn(pruned, bits)
    assert [b.conv.out_channels for b in small.features] == [4, 12, 2]
    assert [b.conv.in_channels for b in small.features] == [1, 4, 12]
    assert small.classifier.in_features == 32
    n_big = sum(p.numel() for p in big.parameters())
    n_small = sum(p.numel() for p in small.parameters())
    assert n_small < n_big
    with torch.no_grad():
        assert small.eval()(torch.rand(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.parametrize(
    ("width", "ratio", "kept"),
    [
        (16, 0.0, 16),
        (16, 0.5, 8),
        (10, 0.25, 8),
        (10, 0.35, 7),
        (3, 0.5, 2),
        (4, 0.99, 1),
        (1, 0.5, 1),
    ],
)
def test_pruning_rounding_rule(width: int, ratio: float, kept: int) -> None:
    # kept = max(1, floor(width * (1 - ratio) + 0.5)): round half up, at least one channel
    assert StageSpec(width, prune_ratio=ratio).channels == kept


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width": 0}, "stage width must be an int >= 1, got 0"),
        ({"width": 8, "kernel": 2}, "stage kernel must be an odd int >= 1 (same padding), got 2"),
        ({"width": 8, "stride": 3}, "stage stride must be 1 or 2, got 3"),
        ({"width": 8, "prune_ratio": 1.0}, "stage prune_ratio must be in [0, 1), got 1.0"),
        ({"width": 8, "prune_ratio": -0.1}, "stage prune_ratio must be in [0, 1), got -0.1"),
    ],
)
def test_stage_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        StageSpec(**kwargs)
    assert str(err.value) == message


def test_arch_errors() -> None:
    with pytest.raises(ConfigError, match="^an architecture needs at least one conv stage$"):
        CnnArch(stages=())
    with pytest.raises(ConfigError, match="^num_classes must be an int >= 2, got 1$"):
        CnnArch(stages=(StageSpec(4),), num_classes=1)
    with pytest.raises(ConfigError, match=r"^architecture: unknown key\(s\) depth; expected"):
        CnnArch.from_dict({"stages": [{"width": 4}], "depth": 3})
    with pytest.raises(ConfigError, match=r"^architecture: stage 0: unknown key\(s\) pad;"):
        CnnArch.from_dict({"stages": [{"width": 4, "pad": 1}]})


def test_build_rejects_mismatched_bits() -> None:
    with pytest.raises(ConfigError, match=r"^bit config has 2 layer\(s\) but the architecture"):
        build_cnn(QUICKSTART_ARCH, BitConfig.uniform(2, 4, 4))
    bad = BitConfig(8, (LayerBits(4, 4), LayerBits(4, 1), LayerBits(4, 4), LayerBits(4)))
    with pytest.raises(ConfigError, match="^layer 'conv1' activation bit-width 1 is not allowed"):
        build_cnn(QUICKSTART_ARCH, bad)


stages = st.builds(
    StageSpec,
    width=st.integers(1, 64),
    kernel=st.sampled_from((1, 3, 5)),
    stride=st.sampled_from((1, 2)),
    prune_ratio=st.sampled_from((0.0, 0.25, 0.5, 0.75)),
)


@given(
    st.lists(stages, min_size=1, max_size=5),
    st.integers(2, 100),
    st.integers(1, 3),
    st.integers(8, 64),
)
def test_arch_dict_round_trip(
    stage_list: list[StageSpec], classes: int, channels: int, size: int
) -> None:
    arch = CnnArch(tuple(stage_list), num_classes=classes, in_channels=channels, input_size=size)
    assert CnnArch.from_dict(arch.to_dict()) == arch
    expected = size
    for stage in stage_list:
        expected = conv_output_size(expected, stage.kernel, stage.stride)
    assert arch.feature_sizes()[-1] == expected
    assert arch.feature_sizes()[-1] >= 1


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "out"),
    [(28, 3, 2, 14), (7, 3, 2, 4), (28, 3, 1, 28), (5, 5, 1, 5), (9, 1, 2, 5)],
)
def test_conv_output_size(size: int, kernel: int, stride: int, out: int) -> None:
    assert conv_output_size(size, kernel, stride) == out
    conv = nn.Conv2d(1, 1, kernel, stride=stride, padding=kernel // 2)
    assert conv(torch.zeros(1, 1, size, size)).shape[-1] == out
