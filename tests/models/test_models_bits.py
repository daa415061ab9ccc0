from __future__ import annotations

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from qonnx.core.datatype import DataType

from codesign.errors import ConfigError
from codesign.models.bits import ALLOWED_BITS, BitConfig, LayerBits, Precision
from codesign.models.cnn import QUICKSTART_ARCH, CnnArch, StageSpec

allowed = st.sampled_from(ALLOWED_BITS)


@st.composite
def bit_configs(draw: st.DrawFn) -> BitConfig:
    n_convs = draw(st.integers(min_value=1, max_value=6))
    layers = [LayerBits(draw(allowed), draw(allowed)) for _ in range(n_convs)]
    layers.append(LayerBits(draw(allowed), draw(st.none() | allowed)))
    return BitConfig(input_bits=draw(allowed), layers=tuple(layers))


@given(bit_configs())
def test_bitconfig_dict_round_trip(cfg: BitConfig) -> None:
    assert BitConfig.from_dict(cfg.to_dict()) == cfg


@given(bit_configs())
def test_bitconfig_yaml_round_trip(cfg: BitConfig) -> None:
    text = yaml.safe_dump(cfg.to_dict())
    assert BitConfig.from_dict(yaml.safe_load(text)) == cfg


@given(st.integers(min_value=1, max_value=16), st.booleans())
def test_precision_datatype_round_trip(bits: int, signed: bool) -> None:
    prec = Precision(bits, signed)
    dt = prec.to_datatype()
    assert dt.bitwidth() == bits
    assert dt.signed() == signed
    assert Precision.from_datatype(dt) == prec


def test_precision_names() -> None:
    assert Precision(4, True).to_datatype() == DataType["INT4"]
    assert Precision(8, False).to_datatype() == DataType["UINT8"]
    assert str(Precision(3, False)) == "uint3"


@pytest.mark.parametrize("name", ["FLOAT32", "BIPOLAR", "TERNARY", "FIXED<8,4>"])
def test_precision_rejects_non_integer_types(name: str) -> None:
    with pytest.raises(ConfigError, match=r"is not a plain integer type \(INTn or UINTn\)"):
        Precision.from_datatype(DataType[name])


def test_precision_rejects_zero_bits() -> None:
    with pytest.raises(ConfigError, match="precision bit-width must be an int >= 1, got 0"):
        Precision(0, False)


def test_uniform_layout() -> None:
    cfg = BitConfig.uniform(4, weight=3, act=5, input_bits=6)
    assert cfg.input_bits == 6
    assert cfg.weight_bits == (3, 3, 3, 3)
    assert cfg.act_bits == (5, 5, 5, None)
    assert cfg.describe() == "in6 W3A5 W3A5 W3A5 W3"
    cfg.validate(QUICKSTART_ARCH)  # 3 convs + classifier
    assert cfg.layers[0].weight_precision == Precision(3, True)
    assert cfg.layers[0].act_precision == Precision(5, False)
    assert cfg.layers[-1].act_precision is None


def test_uniform_rejects_no_layers() -> None:
    with pytest.raises(ConfigError, match="needs at least one layer, got n_layers=0"):
        BitConfig.uniform(0, 4, 4)


def test_layers_stored_as_tuple() -> None:
    cfg = BitConfig(4, [LayerBits(4, 4), LayerBits(4)])  # type: ignore[arg-type]
    assert isinstance(cfg.layers, tuple)
    hash(cfg)  # frozen and hashable: usable as a cache key


def test_validate_wrong_layer_count() -> None:
    cfg = BitConfig.uniform(3, 4, 4)
    with pytest.raises(ConfigError) as err:
        cfg.validate(QUICKSTART_ARCH)
    assert str(err.value) == (
        "bit config has 3 layer(s) but the architecture has 4 (conv0, conv1, conv2, fc)"
    )


def test_validate_names_layer_and_range_for_weight() -> None:
    layers = list(BitConfig.uniform(4, 4, 4).layers)
    layers[1] = LayerBits(weight=1, act=4)
    with pytest.raises(ConfigError) as err:
        BitConfig(8, tuple(layers)).validate(QUICKSTART_ARCH)
    assert str(err.value) == (
        "layer 'conv1' weight bit-width 1 is not allowed; choose one of 2, 3, 4, 5, 6, 8 "
        "(every layer must map to an RTL node in finn-plus)"
    )


def test_validate_names_layer_for_activation() -> None:
    layers = list(BitConfig.uniform(4, 4, 4).layers)
    layers[2] = LayerBits(weight=4, act=7)
    with pytest.raises(
        ConfigError,
        match=r"^layer 'conv2' activation bit-width 7 is not allowed; "
        r"choose one of 2, 3, 4, 5, 6, 8",
    ):
        BitConfig(8, tuple(layers)).validate(QUICKSTART_ARCH)


def test_validate_classifier_weight() -> None:
    layers = list(BitConfig.uniform(4, 4, 4).layers)
    layers[3] = LayerBits(weight=16)
    with pytest.raises(ConfigError, match=r"^layer 'fc' weight bit-width 16 is not allowed"):
        BitConfig(8, tuple(layers)).validate(QUICKSTART_ARCH)


def test_validate_missing_activation() -> None:
    cfg = BitConfig(8, (LayerBits(4, None), LayerBits(4, None)))
    arch = CnnArch(stages=(StageSpec(4),))
    with pytest.raises(ConfigError) as err:
        cfg.validate(arch)
    assert str(err.value) == (
        "layer 'conv0' activation bit-width is missing; choose one of 2, 3, 4, 5, 6, 8"
    )


def test_validate_input_bits() -> None:
    cfg = BitConfig.uniform(4, 4, 4, input_bits=1)
    with pytest.raises(ConfigError, match=r"^input bit-width 1 is not allowed; choose one of"):
        cfg.validate(QUICKSTART_ARCH)


def test_validate_ignores_classifier_act() -> None:
    layers = (*BitConfig.uniform(4, 4, 4).layers[:3], LayerBits(4, 7))
    BitConfig(8, layers).validate(QUICKSTART_ARCH)  # no error: the classifier has no act quant


def test_validate_rejects_bool_bits() -> None:
    cfg = BitConfig(8, (LayerBits(True, 4), LayerBits(4)))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="layer 'conv0' weight bit-width True is not allowed"):
        cfg.validate(CnnArch(stages=(StageSpec(4),)))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"input_bits": 8, "layers": [{"weight": 4}], "extra": 1},
            "bit config: unknown key(s) extra; expected input_bits, layers",
        ),
        ({"layers": [{"weight": 4}]}, "bit config: missing key(s) input_bits"),
        ({"input_bits": 8, "layers": []}, "bit config: 'layers' is empty"),
        (
            {"input_bits": 8, "layers": "W4A4"},
            "bit config: 'layers' must be a list of {weight, act} mappings",
        ),
        (
            {"input_bits": 8, "layers": [{"weight": 4, "acts": 4}]},
            "bit config: layer 0: unknown key(s) acts; expected weight, act, impl",
        ),
        ({"input_bits": 8, "layers": [{"act": 4}]}, "bit config: layer 0: missing key weight"),
        (
            {"input_bits": 8, "layers": [{"weight": 4, "act": 4}, {"weight": "4"}]},
            "layer 1 weight bit-width '4' is not allowed; choose one of 2, 3, 4, 5, 6, 8 "
            "(every layer must map to an RTL node in finn-plus)",
        ),
        (
            {"input_bits": 9, "layers": [{"weight": 4}]},
            "input bit-width 9 is not allowed; choose one of 2, 3, 4, 5, 6, 8 "
            "(every layer must map to an RTL node in finn-plus)",
        ),
        ([1, 2], "bit config must be a mapping, got list"),
    ],
)
def test_from_dict_errors(data: object, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        BitConfig.from_dict(data)  # type: ignore[arg-type]
    assert str(err.value) == message
