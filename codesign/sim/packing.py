"""Packing integer tensors into AXI-stream words, bit for bit as FINN's rtlsim does.

FINN streams the innermost dimension of a *folded* tensor as one word: element 0 sits in
the least significant bits, each element takes ``bitwidth`` bits in two's complement, and
the word is zero-padded to the stream width (``npy_to_rtlsim_input`` /
``rtlsim_output_to_npy`` with ``reverse_inner=True``). BIPOLAR values {-1, +1} travel as
bits {0, 1}; FLOAT32 elements (a design whose first Thresholding node takes the float
input) travel as their IEEE-754 bit patterns. These functions do the same with Python
integers instead of hex strings, so a frame of thousands of words packs in milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from codesign.errors import CodesignError


@dataclass(frozen=True)
class StreamType:
    """The element type of a stream: bit width, signedness, BIPOLAR or FLOAT32.

    Attributes:
        bits: Bits per element.
        signed: Two's complement elements.
        bipolar: Elements are -1/+1, sent as one bit 0/1.
        float32: Elements are IEEE-754 single-precision floats (32 bits).
    """

    bits: int
    signed: bool
    bipolar: bool = False
    float32: bool = False

    @classmethod
    def from_finn(cls, dtype: object) -> StreamType:
        """Build from a qonnx ``DataType`` (integer or BIPOLAR types only).

        Raises:
            CodesignError: For fixed-point and float types other than FLOAT32.
        """
        name = dtype.get_canonical_name()  # type: ignore[attr-defined]
        if name == "BIPOLAR":
            return cls(1, False, True)
        if name == "FLOAT32":
            return cls(32, True, float32=True)
        if not dtype.is_integer():  # type: ignore[attr-defined]
            raise CodesignError(
                f"cannot pack stream elements of type {name}: "
                "only integer, BIPOLAR and FLOAT32 streams are supported"
            )
        return cls(int(dtype.bitwidth()), bool(dtype.signed()))  # type: ignore[attr-defined]

    @property
    def min(self) -> int:
        """Smallest value an element may take."""
        if self.bipolar:
            return -1
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        """Largest value an element may take."""
        if self.bipolar:
            return 1
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1


def pack_words(folded: np.ndarray, stype: StreamType, word_bits: int) -> list[int]:
    """Pack the innermost dimension of ``folded`` into one integer word per row.

    Args:
        folded: Integer-valued array (any float or int dtype), e.g. a folded input tensor
            ``(1, H, W, C/SIMD, SIMD)``; the last axis becomes one word.
        stype: Element type.
        word_bits: Stream width in bits (padded); must hold ``last_dim * stype.bits``.

    Returns:
        The words in stream order (row-major over the outer dimensions).

    Raises:
        CodesignError: A value is outside ``stype``'s range or the words would not fit.

    Example:
        >>> pack_words(np.array([[1, 2, 3]]), StreamType(4, False), 16)
        [801]
    """
    arr = np.asarray(folded)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    inner = arr.shape[-1]
    if inner * stype.bits > word_bits:
        raise CodesignError(
            f"{inner} elements of {stype.bits} bits do not fit a {word_bits}-bit word"
        )
    if stype.float32:
        ints = np.ascontiguousarray(arr, dtype=np.float32).view(np.uint32).astype(np.int64)
        return _pack_rows(ints.reshape(-1, inner), stype.bits)
    rounded = np.rint(arr)
    if (
        not np.array_equal(rounded, arr)
        or rounded.min(initial=0) < stype.min
        or rounded.max(initial=0) > stype.max
    ):
        raise CodesignError(f"stream values must be integers in [{stype.min}, {stype.max}]")
    ints = rounded.astype(np.int64).reshape(-1, inner)
    if stype.bipolar:
        ints = (ints + 1) // 2
    return _pack_rows(ints & ((1 << stype.bits) - 1), stype.bits)


def _pack_rows(ints: np.ndarray, bits: int) -> list[int]:
    words = []
    for row in ints.tolist():
        word = 0
        for i, val in enumerate(row):
            word |= val << (i * bits)
        words.append(word)
    return words


def unpack_words(
    words: Sequence[int], stype: StreamType, folded_shape: Sequence[int]
) -> np.ndarray:
    """Unpack stream words into a float32 array of ``folded_shape`` (FINN's container type).

    Bits above ``folded_shape[-1] * stype.bits`` (the padding) are ignored.

    Raises:
        CodesignError: The number of words does not match ``folded_shape``.

    Example:
        >>> unpack_words([801], StreamType(4, False), (1, 3)).tolist()
        [[1.0, 2.0, 3.0]]
    """
    inner = int(folded_shape[-1])
    n_words = int(np.prod(folded_shape[:-1], dtype=np.int64))
    if len(words) != n_words:
        raise CodesignError(
            f"expected {n_words} words for shape {tuple(folded_shape)}, got {len(words)}"
        )
    mask = (1 << stype.bits) - 1
    out = np.empty((n_words, inner), dtype=np.int64)
    for r, word in enumerate(words):
        for i in range(inner):
            out[r, i] = (int(word) >> (i * stype.bits)) & mask
    if stype.float32:
        return out.astype(np.uint32).view(np.float32).reshape(tuple(folded_shape))
    if stype.bipolar:
        out = 2 * out - 1
    elif stype.signed:
        sign = 1 << (stype.bits - 1)
        out = np.where(out & sign, out - (1 << stype.bits), out)
    return out.astype(np.float32).reshape(tuple(folded_shape))
