"""Packing frames into AXI-stream words: round trip, and bit-for-bit equal to FINN's packer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codesign.errors import CodesignError
from codesign.sim.packing import StreamType, pack_words, unpack_words


@st.composite
def frames(draw: st.DrawFn) -> tuple[StreamType, np.ndarray, int]:
    kind = draw(st.sampled_from(["int", "bipolar", "float32"]))
    if kind == "bipolar":
        stype = StreamType(1, False, bipolar=True)
    elif kind == "float32":
        stype = StreamType(32, True, float32=True)
    else:
        stype = StreamType(draw(st.integers(1, 24)), draw(st.booleans()))
    rows = draw(st.integers(1, 6))
    inner = draw(st.integers(1, 9))
    pad = draw(st.integers(0, 12))
    if stype.float32:
        values = draw(
            st.lists(st.floats(-1e6, 1e6, width=32), min_size=rows * inner, max_size=rows * inner)
        )
    elif stype.bipolar:
        values = draw(
            st.lists(st.sampled_from([-1, 1]), min_size=rows * inner, max_size=rows * inner)
        )
    else:
        values = draw(
            st.lists(
                st.integers(stype.min, stype.max), min_size=rows * inner, max_size=rows * inner
            )
        )
    arr = np.asarray(values, dtype=np.float32).reshape(1, rows, inner)
    return stype, arr, inner * stype.bits + pad


@given(frames())
@settings(max_examples=200, deadline=None)
def test_pack_unpack_round_trip(case: tuple[StreamType, np.ndarray, int]) -> None:
    stype, arr, width = case
    words = pack_words(arr, stype, width)
    assert len(words) == arr.shape[1]
    assert all(0 <= w < (1 << width) for w in words)
    back = unpack_words(words, stype, arr.shape)
    np.testing.assert_array_equal(back, arr)


@given(frames())
@settings(max_examples=60, deadline=None)
def test_pack_matches_finn(case: tuple[StreamType, np.ndarray, int]) -> None:
    from finn.util.data_packing import npy_to_rtlsim_input, rtlsim_output_to_npy
    from qonnx.core.datatype import DataType

    stype, arr, width = case
    if stype.float32:
        dtype = DataType["FLOAT32"]
    elif stype.bipolar:
        dtype = DataType["BIPOLAR"]
    else:
        dtype = DataType[("INT" if stype.signed else "UINT") + str(stype.bits)]
    assert StreamType.from_finn(dtype) == stype
    # FINN pads the word to a multiple of 4 bits; the value is the same integer.
    ours = pack_words(arr, stype, width)
    assert ours == [int(w) for w in npy_to_rtlsim_input(arr, dtype, width)]
    theirs = rtlsim_output_to_npy(ours, None, dtype, arr.shape, width, stype.bits)
    np.testing.assert_array_equal(unpack_words(ours, stype, arr.shape), theirs)


def test_pack_rejects_out_of_range_and_overflow() -> None:
    with pytest.raises(CodesignError, match=r"integers in \[0, 15\]"):
        pack_words(np.array([[16.0]]), StreamType(4, False), 8)
    with pytest.raises(CodesignError, match="integers"):
        pack_words(np.array([[1.5]]), StreamType(4, False), 8)
    with pytest.raises(CodesignError, match="do not fit a 8-bit word"):
        pack_words(np.zeros((1, 3)), StreamType(4, False), 8)
    with pytest.raises(CodesignError, match="expected 2 words"):
        unpack_words([1], StreamType(4, False), (2, 1))


def test_pack_known_word() -> None:
    # element 0 in the least significant bits, two's complement per element
    assert pack_words(np.array([[1, -1, 2]]), StreamType(4, True), 12) == [0x2F1]
    np.testing.assert_array_equal(unpack_words([0x2F1], StreamType(4, True), (1, 3)), [[1, -1, 2]])
