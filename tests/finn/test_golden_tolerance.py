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


def test_toy_apq_lut_winner_row_passes() -> None:
    # The failing row of the toy APQ [dsp, lut] winner (W6A3 / W3A2 lut / W2A2 lut / W3A8 lut /
    # fc W6; notes/s3b.md): float32 Brevitas put output 0 at -10.0056 beside 22019 (~2 float32
    # ulps of the row's largest output); a float64 forward gives -10.0000008 and the same
    # integers. The old per-element tolerance (1e-3 + 8 ulps of 10) refused it.
    scale = np.full((1, 10), 2.5192790417349897e-05)
    q32 = [-10.005563, -6221.997815, -12450.002753, -6514.999443, 210.002659]
    q32 += [6320.001579, 22019.002046, -17178.997434, 7227.003231, 9232.000634]
    y = np.array([q32]) * scale
    want = np.array([[-10, -6222, -12450, -6515, 210, 6320, 22019, -17179, 7227, 9232]])
    assert np.array_equal(integer_outputs(y, scale, np.zeros((1, 10))), want)
