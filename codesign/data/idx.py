"""The IDX file format of (Fashion-)MNIST: a magic number, dimensions, then raw values."""

from __future__ import annotations

import struct

import numpy as np

# IDX type codes (the third magic byte) and the big-endian numpy dtype of each.
_IDX_DTYPES: dict[int, str] = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def parse_idx(raw: bytes) -> np.ndarray:
    """Decode one decompressed IDX file into an array of its declared shape.

    Args:
        raw: The whole file, decompressed.

    Returns:
        An array in native byte order, shaped by the dimensions in the header
        (``(N, 28, 28)`` for image files, ``(N,)`` for label files).

    Raises:
        ValueError: The header is not IDX, or the data length does not match it.

    Example:
        >>> parse_idx(bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 9])).tolist()
        [7, 9]
    """
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"not an IDX file (header {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise ValueError(f"IDX header declares {ndim} dimensions but the file is {len(raw)} bytes")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"IDX data is {len(raw) - header} bytes, the header {shape} of {dtype} needs {expected}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))
