"""UltraScale+ memory rules against Yosys 0.70's cells on the xcup calibration's DoE.

Every case is a memory that ``codesign calibrate --board kv260`` synthesized (per-layer
Yosys, ``runs/cal-xcup``): the cells Yosys chose, 8 LUTs per RAM64M8/RAM32M16 and 1/2/4/8
per RAM64X1S/RAM128X1S/RAM256X1S/RAM512X1S.
"""

from __future__ import annotations

import pytest

from codesign.cost.analytic import features, memory_cost, xcu_lutram
from codesign.cost.protocol import Impl, LayerKind, LayerSpec
from codesign.models.bits import Precision


@pytest.mark.parametrize(
    ("depth", "width", "luts"),
    [
        (1024, 2, 128),  # replay 600 x 2 -> Mem[1024]: 16 RAM64M8
        (512, 5, 64),  # 8 RAM64M8
        (159, 8, 40),  # 5 RAM32M16
        (101, 18, 48),  # 6 RAM64M8
        (680, 12, 176),  # 22 RAM64M8
        (35, 72, 88),  # 11 RAM64M8
    ],
)
def test_simple_dual_port_cells(depth: int, width: int, luts: int) -> None:
    assert xcu_lutram(depth, width)[0] == luts


@pytest.mark.parametrize(
    ("depth", "width", "luts"),
    [
        (36, 18, 18),  # 18 RAM64X1S
        (96, 6, 12),  # 6 RAM128X1S
        (150, 9, 27),  # 27 RAM64X1S
        (216, 2, 8),  # 2 RAM256X1S
        (288, 8, 40),  # 40 RAM64X1S
        (360, 5, 30),  # 15 RAM128X1S
        (432, 3, 24),  # 3 RAM512X1S
        (24, 6, 8),  # 1 RAM32M16
    ],
)
def test_single_port_cells(depth: int, width: int, luts: int) -> None:
    assert xcu_lutram(depth, width, single_port=True)[0] == luts


@pytest.mark.parametrize(
    ("depth", "width", "single_port", "bram18"),
    [
        (432, 3, True, 0),
        (288, 8, True, 0),
        (384, 12, True, 1),
        (750, 3, True, 1),
        (120, 40, True, 0),
        (100, 144, True, 4),
        (50, 384, True, 0),
        (1024, 2, False, 0),
        (128, 24, False, 0),
        (512, 6, False, 1),
    ],
)
def test_lutram_or_bram(depth: int, width: int, single_port: bool, bram18: int) -> None:
    _, bram = memory_cost(depth, width, 4096.0, "xcup", single_port=single_port)
    assert bram == bram18


def test_replay_buffer_is_a_power_of_two_deep_on_xcup_only() -> None:
    """The worst xcup node of session 3 (305 LUT measured, 138 priced): its replay buffer."""
    spec = LayerSpec(
        "MVAU_rtl_1", LayerKind.MVAU, mw=600, mh=5, vectors=1, weight=Precision(6, True),
        act_in=Precision(2, False), act_out=None, pe=1, simd=1, impl=Impl.LUT,
        extra=(("acc", 16.0),),
    )  # fmt: skip
    xcup, bram = features(spec, 4096.0, "xcup")
    assert xcup["replay"] == 128.0  # 16 RAM64M8, as Yosys mapped it
    assert bram == 2.0  # 3000 x 6 weights: one RAMB36E2
    xc7, _ = features(spec, 2048.0, "xc7")
    assert xc7["replay"] == 40.0  # the 7-series rule the shipped xc7 fit uses, unchanged
