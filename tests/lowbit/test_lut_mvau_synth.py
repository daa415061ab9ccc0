"""LUT MVU in Yosys: no DSP at any width, and more LUTs for more bits at fixed folding."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.yosys


def test_lut_mvu_maps_no_dsp_and_grows_with_bits(tmp_path: Path) -> None:
    from codesign.cost.protocol import Impl
    from codesign.finn.single_mvau import MvuShape, single_mvau_run
    from codesign.settings import Settings
    from codesign.synth import synthesize

    settings = Settings.from_env({**os.environ, "CODESIGN_CACHE": str(tmp_path / "cache")})
    shape = MvuShape(mw=16, mh=4, pe=2, simd=4)
    luts = []
    for bits in (1, 8):  # W1A1 (XNOR) and W8A8: the extremes (`make bench` sweeps the grid)
        run = single_mvau_run(tmp_path / f"w{bits}", bits, bits, Impl.LUT, shape=shape)
        layer = synthesize(run, per_layer=True, whole=False, settings=settings).layers[0]
        assert layer.resources.dsp == 0, layer.cells
        assert not any(c.startswith("DSP") for c in layer.cells), layer.cells
        luts.append(layer.resources.lut)
    assert luts[0] < luts[1], luts


def test_lut_core_cost_follows_w_times_a_where_the_node_did_not(tmp_path: Path) -> None:
    """Pairs whose whole-node LUTs broke the w*a order with the first kernel (W3A1 667 vs
    W2A2 663, W3A2 1,007 vs W2A4 991 at PE 4 SIMD 8): the compute core (w*a
    partial-product bits per lane) now orders them; the node's weight memstream grows with
    w alone (docs/lowbit.md). And the pair the bipolar MODE 1 broke in the core until its
    masked-sum form (W1A8 654 vs W3A4 622 at PE 4 SIMD 8; here 183 vs 159 before, 154 now)."""
    from codesign.bench.lutmvu import measure_core
    from codesign.finn.single_mvau import MvuShape
    from codesign.settings import Settings

    settings = Settings.from_env({**os.environ, "CODESIGN_CACHE": str(tmp_path / "cache")})
    shape = MvuShape(mw=16, mh=4, pe=2, simd=4)
    for low, high in (((3, 1), (2, 2)), ((3, 2), (2, 4)), ((1, 8), (3, 4))):
        lut = [measure_core(tmp_path, *wa, settings, shape)["lut"] for wa in (low, high)]
        assert lut[0] < lut[1], (low, high, lut)
