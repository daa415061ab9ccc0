"""DesignPricer equals the stitched design's price, and is fast once groups are cached."""

from __future__ import annotations

import time

import pytest

from codesign.cost.analytic import AnalyticCostModel
from codesign.cost.doe import calibration_points, design_points
from codesign.cost.network import network_layers
from codesign.cost.pricer import DesignPricer
from codesign.resources import Resources


@pytest.mark.parametrize("fifo_sizing", [False, True])
def test_pricer_equals_design_cost_of_network_layers(fifo_sizing: bool) -> None:
    model = AnalyticCostModel(overhead=(Resources(lut=100, ff=50), Resources(lut=3, ff=2)))
    pricer = DesignPricer(model, fifo_sizing=fifo_sizing)
    points = design_points() + calibration_points(12, seed=3)
    for point in points:
        for target in (1, 500, 5000, 10**9):
            specs = network_layers(
                point.arch, point.bits, target_cycles=target, fifo_sizing=fifo_sizing
            )
            want = model.design_cost(specs)
            got = pricer.price(point.arch, point.bits, target)
            assert got.cycles == want.cycles, (point.key, target)
            for res in ("lut", "ff", "bram18", "dsp"):
                assert getattr(got.resources, res) == pytest.approx(
                    getattr(want.resources, res), rel=1e-9
                ), (point.key, target, res)


def test_cached_designs_per_second() -> None:
    pricer = DesignPricer(AnalyticCostModel())
    points = calibration_points(20, seed=5)
    for p in points:
        pricer.price(p.arch, p.bits, 2000)
    t0 = time.perf_counter()
    n = 0
    while n < 4000:
        for p in points:
            pricer.price(p.arch, p.bits, 2000)
            n += 1
    assert n / (time.perf_counter() - t0) > 4000  # make bench reports the real rate
