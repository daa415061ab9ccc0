// codesign LUT-based matrix-vector compute core (no DSP).
//
// PE x SIMD small multipliers built from partial-product bits (never a `*` operator, so no
// synthesis tool can infer a DSP from it), one balanced adder tree per PE and an
// accumulator. MODE selects the arithmetic:
//   0: integer weights x integer activations (1..8 bits each, signed or unsigned),
//   1: bipolar weights (stored 0/1 for -1/+1) x integer activations,
//   2: XNOR-popcount (FINN's W1A1 binaryXnorMode: weights and activations 0/1).
//
// Each lane yields an UNSIGNED value U of UW bits with product = U - OFF, OFF a constant of
// the operand types. In MODE 0, U is the sum of exactly WEIGHT_WIDTH x ACTIVATION_WIDTH
// AND-ed partial-product bits (Baugh-Wooley: a bit of negative weight, w_i a_j with exactly
// one of them a sign bit, enters inverted and its -2^(i+j) goes into OFF), added as rows over
// the narrower operand; no sign extension, so the cost tracks w x a. MODE 2 is one bit.
// MODE 1 uses dot = 2 * sum(x where w = +1) - sum(x): each PE's lanes are the masked
// activations (an AND per bit), and ONE extra tree, shared by all PEs, adds the unmasked
// vector; each PE's root then gives 2 * M - T. Signed activations enter with their sign bit
// inverted (x + 2^(A-1), unsigned), a masked-out lane as 2^(A-1), so OFF = 2^(A-1).
// The adder trees therefore add unsigned values only, and the accumulator starts each row at
// -SF*SIMD*OFF (mod 2^ACCU_WIDTH) instead of 0, which removes every lane's offset at no cost.
// Pipeline: operand registers, lane registers (MODE 1: the operands once more), adder tree
// with a register every LEVELS_PER_STAGE levels (and at its root), accumulator.
// PIPELINE_DEPTH is the latency from an accepted input to the output register (the AXI
// wrapper sizes its queue by it).
(* use_dsp = "no" *)
module codesign_mvu_lut_core #(
	int unsigned  PE,
	int unsigned  SIMD,
	int unsigned  SF,	// inputs per output row (MW/SIMD)
	int unsigned  ACTIVATION_WIDTH,
	int unsigned  WEIGHT_WIDTH,
	int unsigned  ACCU_WIDTH,
	bit  SIGNED_ACTIVATIONS = 0,
	bit  SIGNED_WEIGHTS = 1,
	int unsigned  MODE = 0,
	int unsigned  LEVELS_PER_STAGE = 2,

	localparam int unsigned  TREE_LEVELS = SIMD < 2? 0 : $clog2(SIMD),
	localparam int unsigned  TREE_STAGES = (TREE_LEVELS + LEVELS_PER_STAGE - 1) / LEVELS_PER_STAGE,
	localparam int unsigned  PIPELINE_DEPTH = 3 + TREE_STAGES
)(
	input	logic  clk,
	input	logic  rst,
	input	logic  vld,	// an input is accepted this cycle
	input	logic  last,	// ... and it is the last one of its output row
	input	logic [PE-1:0][SIMD-1:0][WEIGHT_WIDTH-1:0]  w,
	input	logic [SIMD-1:0][ACTIVATION_WIDTH-1:0]  a,
	output	logic  ovld,
	output	logic [PE-1:0][ACCU_WIDTH-1:0]  odat
);
	localparam int unsigned  WW = WEIGHT_WIDTH;
	localparam int unsigned  AW = ACTIVATION_WIDTH;
	// Lane width: U < 2^UW for the operand ranges of each mode.
	localparam int unsigned  UW =
		MODE == 2? 1 :
		MODE == 1? AW :
		/* else */ WW + AW;
	localparam int unsigned  N2 = 2**TREE_LEVELS;	// tree leaves (SIMD padded with zeros)
	// tree rows: one per PE, plus (MODE 1) the shared row of the unmasked activations
	localparam int unsigned  PT = MODE == 1? PE + 1 : PE;

	// Partial-product bit w_i a_j has negative weight (exactly one of them is a sign bit).
	function automatic bit negative(input int unsigned  i, input int unsigned  j);
		return  (SIGNED_WEIGHTS && (i == WW-1)) != (SIGNED_ACTIVATIONS && (j == AW-1));
	endfunction : negative

	// OFF: product = U - OFF for every lane
	function automatic longint unsigned  lane_offset();
		automatic longint unsigned  off = 0;
		if(MODE == 1)  off = SIGNED_ACTIVATIONS? 64'd1 << (AW-1) : 0;
		else if(MODE == 0) begin
			for(int unsigned  i = 0; i < WW; i++) begin
				for(int unsigned  j = 0; j < AW; j++) begin
					if(negative(i, j))  off += 64'd1 << (i+j);
				end
			end
		end
		return  off;
	endfunction : lane_offset
	localparam longint unsigned  OFF = lane_offset();
	// Row start value: minus the offsets of the SF*SIMD lanes a row adds up
	localparam logic [ACCU_WIDTH-1:0]  INIT = ACCU_WIDTH'(-(longint'(SF) * longint'(SIMD) * longint'(OFF)));

	typedef logic [UW-1:0]  lane_t;
	localparam bit  ROWS_W = WW <= AW;	// partial-product rows over the weight bits
	localparam int unsigned  NR = ROWS_W? WW : AW;	// rows
	localparam int unsigned  NC = ROWS_W? AW : WW;	// bits per row

	// Stage 1: operand registers
	logic  V1 = 0;
	logic  L1 = 0;
	logic [PE-1:0][SIMD-1:0][WEIGHT_WIDTH-1:0]  W1;
	logic [SIMD-1:0][ACTIVATION_WIDTH-1:0]  A1;
	always_ff @(posedge clk) begin
		if(rst) begin
			V1 <= 0;
			L1 <= 0;
		end
		else begin
			V1 <= vld;
			L1 <= vld && last;
		end
		W1 <= w;
		A1 <= a;
	end

	// Stage 2: lane values U (registered)
	function automatic lane_t  lane(input logic [WEIGHT_WIDTH-1:0] wv, input logic [ACTIVATION_WIDTH-1:0] av);
		automatic lane_t  acc = 0;
		if(MODE == 2) begin
			acc = lane_t'(~(wv[0] ^ av[0]));
		end
		else if(MODE == 1) begin
			// x + 2^(A-1) (signed) or x (unsigned) if the weight is +1, else 2^(A-1) or 0
			acc = av & {AW{wv[0]}};
			if(SIGNED_ACTIVATIONS)  acc[AW-1] = ~acc[AW-1];
		end
		else begin
			// rows over the narrower operand, each row the wider operand AND-ed with one bit
			for(int unsigned  r = 0; r < NR; r++) begin
				automatic logic [NC-1:0]  row;
				for(int unsigned  c = 0; c < NC; c++) begin
					automatic int unsigned  i = ROWS_W? r : c;
					automatic int unsigned  j = ROWS_W? c : r;
					row[c] = (wv[i] & av[j]) ^ negative(i, j);
				end
				acc = acc + (lane_t'(row) << r);
			end
		end
		return  acc;
	endfunction : lane

	logic  V2 = 0;
	logic  L2 = 0;
	lane_t  P2[PT][N2];
	always_ff @(posedge clk) begin
		if(rst) begin
			V2 <= 0;
			L2 <= 0;
		end
		else begin
			V2 <= V1;
			L2 <= L1;
		end
	end
	// MODE 1 registers the operands once more instead of the lanes, so that each lane's AND
	// folds into the first adder's LUTs (a register in between would cost a LUT per bit).
	logic [PE-1:0][SIMD-1:0][WEIGHT_WIDTH-1:0]  W2;
	logic [SIMD-1:0][ACTIVATION_WIDTH-1:0]  A2;
	if(MODE == 1) begin : genOperands2
		always_ff @(posedge clk) begin
			W2 <= W1;
			A2 <= A1;
		end
	end : genOperands2
	// one process per lane (generate, not a procedural loop): the lanes' loops then stay
	// below the elaborators' unroll limits at any PE x SIMD (Yosys's read_slang: 4000)
	for(genvar  pe = 0; pe < PT; pe++) begin : genLanePE
		for(genvar  s = 0; s < N2; s++) begin : genLane
			if(s < SIMD) begin : genUsed
				if(MODE == 1) begin : genMasked
					// row PE: every weight +1, the unmasked activations (shared by all PEs)
					assign	P2[pe][s] = lane(pe < PE? W2[pe][s] : WW'(1), A2[s]);
				end : genMasked
				else begin : genReg
					always_ff @(posedge clk)  P2[pe][s] <= lane(W1[pe][s], A1[s]);
				end : genReg
			end : genUsed
			else begin : genPad
				assign	P2[pe][s] = lane_t'(0);
			end : genPad
		end : genLane
	end : genLanePE

	// Adder tree (unsigned): level l has N2 >> l nodes of UW + l bits
	logic  Vt[TREE_LEVELS+1];
	logic  Lt[TREE_LEVELS+1];
	assign	Vt[0] = V2;
	assign	Lt[0] = L2;
	for(genvar  l = 0; l <= TREE_LEVELS; l++) begin : genLvl
		localparam int unsigned  N = N2 >> l;
		localparam int unsigned  WL = UW + l;
		// register after every LEVELS_PER_STAGE levels, and always at the root
		localparam bit  REG = (l > 0) && ((l % LEVELS_PER_STAGE == 0) || (l == TREE_LEVELS));
		logic [WL-1:0]  s[PT][N];
		if(l == 0) begin : genLeaves
			for(genvar  pe = 0; pe < PT; pe++) begin : genPE
				for(genvar  i = 0; i < N; i++) begin : genI
					assign	s[pe][i] = P2[pe][i];
				end : genI
			end : genPE
		end : genLeaves
		else begin : genAdd
			logic [WL-1:0]  sum[PT][N];
			for(genvar  pe = 0; pe < PT; pe++) begin : genPE
				for(genvar  i = 0; i < N; i++) begin : genI
					assign	sum[pe][i] = WL'(genLvl[l-1].s[pe][2*i]) + WL'(genLvl[l-1].s[pe][2*i+1]);
				end : genI
			end : genPE
			if(REG) begin : genReg
				logic  V = 0;
				logic  L = 0;
				always_ff @(posedge clk) begin
					if(rst) begin
						V <= 0;
						L <= 0;
					end
					else begin
						V <= Vt[l-1];
						L <= Lt[l-1];
					end
					s <= sum;
				end
				assign	Vt[l] = V;
				assign	Lt[l] = L;
			end : genReg
			else begin : genComb
				assign	s = sum;
				assign	Vt[l] = Vt[l-1];
				assign	Lt[l] = Lt[l-1];
			end : genComb
		end : genAdd
	end : genLvl

	// Root value per PE; MODE 1: 2 * M - T, in RW bits (signed), then sign-extended
	localparam int unsigned  TW = UW + TREE_LEVELS;	// root width
	localparam int unsigned  RW = MODE == 1? TW + 2 : TW;
	logic [PE-1:0][RW-1:0]  Root;
	for(genvar  pe = 0; pe < PE; pe++) begin : genRoot
		if(MODE == 1) begin : genMasked
			assign	Root[pe] = {1'b0, genLvl[TREE_LEVELS].s[pe][0], 1'b0} - RW'(genLvl[TREE_LEVELS].s[PE][0]);
		end : genMasked
		else begin : genPlain
			assign	Root[pe] = genLvl[TREE_LEVELS].s[pe][0];
		end : genPlain
	end : genRoot

	// Accumulator: modulo 2^ACCU_WIDTH, exact whenever the row's result fits (FINN sizes
	// ACCU_WIDTH for that); each row starts at INIT, which cancels the lanes' offsets.
	logic  Fresh = 1;	// the next valid input starts a new row
	logic  OVld = 0;
	logic [PE-1:0][ACCU_WIDTH-1:0]  Acc;
	logic [PE-1:0][ACCU_WIDTH-1:0]  ODat;
	always_ff @(posedge clk) begin
		if(rst) begin
			Fresh <= 1;
			OVld <= 0;
		end
		else begin
			OVld <= Vt[TREE_LEVELS] && Lt[TREE_LEVELS];
			if(Vt[TREE_LEVELS])  Fresh <= Lt[TREE_LEVELS];
		end
		if(Vt[TREE_LEVELS]) begin
			for(int unsigned  pe = 0; pe < PE; pe++) begin
				automatic logic [ACCU_WIDTH-1:0]  root = MODE == 1?
					ACCU_WIDTH'($signed(Root[pe])) : ACCU_WIDTH'(Root[pe]);
				automatic logic [ACCU_WIDTH-1:0]  nxt = (Fresh? INIT : Acc[pe]) + root;
				Acc[pe] <= nxt;
				if(Lt[TREE_LEVELS])  ODat[pe] <= nxt;
			end
		end
	end
	assign	ovld = OVld;
	assign	odat = ODat;

endmodule : codesign_mvu_lut_core
