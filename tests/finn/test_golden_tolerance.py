"""The integer check of float (Brevitas) outputs: float32 rounding passes, a wrong scale not."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.finn.golden import integer_outputs


def test_small_outputs_beside_large_ones_carry_their_rows_rounding() -> None:
    # A W8A8 classifier row seen in the demo: one output near 2.7e5, another near 1.2e3 that
    # is 0.008 off the grid (the float32 error of the large partial sums it was summed from).
    scale = np.array([[0.5, 0.5]])
    q = np.array([[273517.0, 1200.0], [-5.0, 3.0]])
    y = q * scale + np.array([[0.0, 0.008 * 0.5], [0.0, 0.0]])
    assert np.array_equal(integer_outputs(y, scale, np.zeros((1, 2))), q.astype(np.int64))
    # ... but a small row gets no such slack.
    with pytest.raises(ValueError, match="not integers times the output scale"):
        integer_outputs(np.array([[2.5, 1.504]]), scale, np.zeros((1, 2)))


def test_a_wrong_scale_is_refused() -> None:
    rng = np.random.default_rng(0)
    q = rng.integers(-300_000, 300_000, size=(16, 10)).astype(np.float64)
    y = q * 0.37  # the true scale is 0.37; checked against 0.37 * 1.01
    with pytest.raises(ValueError, match="not integers times the output scale"):
        integer_outputs(y, np.full((1, 10), 0.37 * 1.01), np.zeros((1, 10)))
    assert np.array_equal(integer_outputs(y, np.full((1, 10), 0.37), np.zeros((1, 10))), q)
