"""Primitive stubs cut from Yosys's own Xilinx cell library."""

from __future__ import annotations

import pytest

from codesign.synth.blackbox import blackbox_stub, cell_library_dir, primitive_stubs


@pytest.mark.yosys
def test_stubs_keep_ports_and_parameters_and_drop_behaviour() -> None:
    text = primitive_stubs()
    for name in ("DSP48E1", "DSP48E2", "LUT6_2"):
        assert f"module {name}" in text
    dsp = blackbox_stub("DSP48E1", (cell_library_dir() / "cells_sim.v").read_text())
    assert dsp is not None and dsp.startswith("(* blackbox *)")
    assert "parameter integer AREG = 1;" in dsp
    assert "input signed [29:0] A" in dsp and "output reg signed [47:0] P" in dsp
    assert "always" not in dsp and "function" not in dsp and "`ifdef" not in dsp


def test_stub_of_a_non_ansi_module() -> None:
    lib = """module X(A, B);
    parameter W = 4;
    (* clkbuf_sink *)
    input [W-1:0] A;
    output B;
`ifdef YOSYS
    input SECRET;
`endif
    function integer f;
        input integer x;
        f = x;
    endfunction
    assign B = ^A;
endmodule
"""
    stub = blackbox_stub("X", lib)
    assert stub == (
        "(* blackbox *)\nmodule X(A, B);\n  parameter W = 4;\n  input [W-1:0] A;\n"
        "  output B;\nendmodule\n"
    )
    assert blackbox_stub("Y", lib) is None
