"""The APQ search space: reversible encoding (property tests), buildability, YAML section."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codesign.cost.protocol import Impl
from codesign.errors import ConfigError
from codesign.flow.config import load_flow_config
from codesign.models.bits import ALLOWED_BITS, BitConfig
from codesign.search.space import Arch, SearchSpace, StageChoices

SPACE = SearchSpace(
    stages=(
        StageChoices(depths=(1, 2), widths=(4, 6, 8), kernels=(3, 5)),
        StageChoices(depths=(1, 2, 3), widths=(8, 16), kernels=(3,)),
    ),
    weight_bits=(2, 4, 8),
    act_bits=(3, 4, 6),
    impls=(Impl.DSP, Impl.LUT),
)
FLOWS = Path(__file__).resolve().parents[2] / "flows"


@st.composite
def arches(draw: st.DrawFn, space: SearchSpace = SPACE) -> Arch:
    """Any point of ``space``, drawn field by field (not through decode)."""
    n = space.n_slots
    stage_of = [space.slot_stage(k) for k in range(n)]
    return Arch(
        depths=tuple(draw(st.sampled_from(s.depths)) for s in space.stages),
        widths=tuple(draw(st.sampled_from(space.stages[s].widths)) for s in stage_of),
        kernels=tuple(draw(st.sampled_from(space.stages[s].kernels)) for s in stage_of),
        weight_bits=tuple(draw(st.sampled_from(space.weight_bits)) for _ in range(n + 1)),
        act_bits=tuple(draw(st.sampled_from(space.act_bits)) for _ in range(n)),
        impls=tuple(draw(st.sampled_from(space.impls)) for _ in range(n + 1)),
    )


@st.composite
def vectors(draw: st.DrawFn, space: SearchSpace = SPACE) -> np.ndarray:
    """Any index vector in the box of ``space``."""
    return np.array([draw(st.integers(0, int(c) - 1)) for c in space.cardinalities], dtype=np.int64)


@settings(max_examples=200, deadline=None)
@given(arches())
def test_decode_inverts_encode(arch: Arch) -> None:
    vec = SPACE.encode(arch)
    assert vec.shape == (SPACE.vector_length,)
    assert SPACE.decode(vec) == arch


@settings(max_examples=200, deadline=None)
@given(vectors())
def test_encode_inverts_decode_and_every_point_builds(vec: np.ndarray) -> None:
    arch = SPACE.decode(vec)
    np.testing.assert_array_equal(SPACE.encode(arch), vec)
    cnn = SPACE.to_cnn_arch(arch)
    bits = SPACE.to_bit_config(arch)
    bits.validate(cnn)  # every bit-width is an RTL one
    assert cnn.n_layers == sum(arch.depths) + 1
    assert all(b in ALLOWED_BITS for b in bits.weight_bits)
    assert len(SPACE.to_impls(arch)) == cnn.n_layers
    # The bit config carries each layer's impl, so its flow compiles what was priced.
    assert [str(i) for i in bits.impls] == [i.value for i in SPACE.to_impls(arch)]
    assert BitConfig.from_dict(bits.to_dict()) == bits
    # Stride 2 opens each stage, stride 1 inside it: the stage count sets the resolution.
    assert [s.stride for s in cnn.stages].count(2) == len(SPACE.stages)
    assert all(s.kernel % 2 == 1 for s in cnn.stages)


def test_inactive_slots_do_not_change_the_network() -> None:
    arch = SPACE.smallest()  # depth 1 everywhere: slots 1 and 3, 4 inactive
    other = Arch(
        depths=arch.depths,
        widths=(arch.widths[0], 8, *arch.widths[2:]),
        kernels=arch.kernels,
        weight_bits=arch.weight_bits,
        act_bits=arch.act_bits,
        impls=arch.impls,
    )
    assert SPACE.encode(other).tolist() != SPACE.encode(arch).tolist()
    assert SPACE.to_cnn_arch(other) == SPACE.to_cnn_arch(arch)
    assert SPACE.active_key(other) == SPACE.active_key(arch)


def test_bad_points_and_spaces_are_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="not one of"):
        SPACE.encode(SPACE.with_uniform_bits(SPACE.largest(), 5, 5))
    with pytest.raises(ConfigError, match="shape"):
        SPACE.decode(np.zeros(3, dtype=np.int64))
    with pytest.raises(ConfigError, match="outside"):
        SPACE.decode(SPACE.cardinalities)
    with pytest.raises(ConfigError, match="not buildable all-RTL"):
        SearchSpace(stages=SPACE.stages, weight_bits=(1, 4))
    with pytest.raises(ConfigError, match="odd kernels"):
        StageChoices(depths=(1,), widths=(4,), kernels=(4,))


def test_arch_dict_round_trip() -> None:
    arch = SPACE.sample(np.random.default_rng(3))
    assert Arch.from_dict(arch.to_dict()) == arch


def test_flow_yaml_declares_the_space(tmp_path: Path) -> None:
    cfg = load_flow_config(FLOWS / "apq.yaml")
    space = cfg.search.build_space()
    assert len(space.stages) == 3
    assert space.impls == (Impl.DSP, Impl.LUT)
    bad = (FLOWS / "apq.yaml").read_text().replace("weight_bits: [2, 3,", "weight_bits: [1, 3,")
    (tmp_path / "bad.yaml").write_text(bad)
    with pytest.raises(ConfigError, match="weight_bits 1 is not buildable all-RTL"):
        load_flow_config(tmp_path / "bad.yaml")
