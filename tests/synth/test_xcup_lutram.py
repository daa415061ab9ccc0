"""xcup memories that Yosys 0.70's stock UltraScale LUTRAM library cannot map.

Its single-port library offers a 64K x 1 LUTRAM (``option "ABITS" 16``) that its own map
file rejects, so every single-port memory over 384 x 1 failed with ``invalid OPTION_ABITS/WIDTH
combination`` (the DoE's MVAU weight memory, 8000 x 8, among them). codesign's xcup script maps
memories with a corrected copy of the library (``codesign/hls/synth/lutrams_xcup.txt``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codesign.synth.blackbox import primitive_stubs
from codesign.synth.plan import (
    LUTRAM_LIB_XCUP,
    SCRIPT,
    TOP,
    Family,
    SynthPlan,
    script_files,
)
from codesign.synth.yosys import run_plan

# Two single-port memories with a synchronous read, written like memstream.sv's weight memory:
# the smallest one that failed (385 x 1) and the DoE's repro (8000 x 8, with contents).
_MEMORIES = f"""
module {TOP} (
  input  logic clk, input logic we,
  input  logic [12:0] addr, input logic [7:0] d,
  output logic q_small, output logic [7:0] q_big
);
  (* ram_style = "auto" *) logic       Small[385];
  (* ram_style = "auto" *) logic [7:0] Big[8000];
  initial $readmemh("big.dat", Big);
  always_ff @(posedge clk) begin
    if (we) Small[addr[8:0]] <= d[0];
    q_small <= Small[addr[8:0]];
    if (we) Big[addr] <= d;
    q_big <= Big[addr];
  end
endmodule
"""


def test_scripts_of_other_families_do_not_change() -> None:
    sources = ["primitives.sv", "mem.sv"]
    assert set(script_files("m", sources, Family.XCUP)) == {SCRIPT, LUTRAM_LIB_XCUP}
    for family in (Family.XC7, Family.XCU):
        files = script_files("m", sources, family)
        assert set(files) == {SCRIPT}
        assert "memory_libmap" not in files[SCRIPT].decode()
        assert f"synth_xilinx -family {family} -top {TOP} -flatten" in files[SCRIPT].decode()


@pytest.mark.yosys
def test_repro_sized_memories_map_on_xcup(tmp_path: Path) -> None:
    contents = "".join(f"{i * 37 % 256:02x}\n" for i in range(8000)).encode()
    files = {
        "primitives.sv": primitive_stubs().encode(),
        "mem.sv": _MEMORIES.encode(),
        "big.dat": contents,
    }
    files.update(script_files("mem", ["primitives.sv", "mem.sv"], Family.XCUP))
    plan = SynthPlan("mem", ("mem",), Family.XCUP, files)
    outcome = run_plan(plan, tmp_path / "work")
    # 385 x 1 fits one RAM512X1S (LUTRAM kept); 8000 x 8 goes to two 36-kbit block RAMs.
    assert outcome.cells.get("RAM512X1S") == 1
    assert outcome.cells.get("RAMB36E2") == 2
    assert outcome.resources.bram18 == 4
