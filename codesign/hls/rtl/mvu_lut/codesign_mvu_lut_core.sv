// codesign LUT-based matrix-vector compute core (no DSP).
//
// PE x SIMD small multipliers built from partial products (shift-and-add, never a `*`
// operator, so no synthesis tool can infer a DSP from it), one balanced adder tree per PE
// and an accumulator. MODE selects the arithmetic:
//   0: integer weights x integer activations (1..8 bits each, signed or unsigned),
//   1: bipolar weights (stored 0/1 for -1/+1) x integer activations,
//   2: XNOR-popcount (FINN's W1A1 binaryXnorMode: weights and activations 0/1).
// Pipeline: operand registers, product registers, adder tree with a register every
// LEVELS_PER_STAGE levels (and at its root), accumulator. PIPELINE_DEPTH is the latency
// from an accepted input to the output register (the AXI wrapper sizes its queue by it).
(* use_dsp = "no" *)
module codesign_mvu_lut_core #(
	int unsigned  PE,
	int unsigned  SIMD,
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
	// Product width: exact for the operand ranges of each mode.
	localparam int unsigned  PW =
		MODE == 2? 2 :
		MODE == 1? ACTIVATION_WIDTH + 1 :
		/* else */ WEIGHT_WIDTH + ACTIVATION_WIDTH + (!SIGNED_WEIGHTS && !SIGNED_ACTIVATIONS);
	localparam int unsigned  N2 = 2**TREE_LEVELS;	// tree leaves (SIMD padded with zeros)
	localparam int unsigned  AE = ACTIVATION_WIDTH + 1;	// activation, sign-extended

	typedef logic signed [PW-1:0]  prod_t;

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

	// Stage 2: products (registered)
	function automatic prod_t mul(input logic [WEIGHT_WIDTH-1:0] wv, input logic [ACTIVATION_WIDTH-1:0] av);
		automatic logic signed [AE-1:0]  ax = SIGNED_ACTIVATIONS? $signed({av[ACTIVATION_WIDTH-1], av}) : $signed({1'b0, av});
		automatic prod_t  acc = 0;
		if(MODE == 2) begin
			acc = prod_t'({1'b0, ~(wv[0] ^ av[0])});
		end
		else if(MODE == 1) begin
			acc = wv[0]? prod_t'(ax) : -prod_t'(ax);
		end
		else begin
			// shift-and-add over the weight bits; the top bit of a signed weight has weight -2^(W-1)
			for(int unsigned  j = 0; j < WEIGHT_WIDTH; j++) begin
				if(wv[j]) begin
					if(SIGNED_WEIGHTS && (j == WEIGHT_WIDTH-1))  acc = acc - (prod_t'(ax) <<< j);
					else                                         acc = acc + (prod_t'(ax) <<< j);
				end
			end
		end
		return  acc;
	endfunction : mul

	logic  V2 = 0;
	logic  L2 = 0;
	prod_t  P2[PE][N2];
	always_ff @(posedge clk) begin
		if(rst) begin
			V2 <= 0;
			L2 <= 0;
		end
		else begin
			V2 <= V1;
			L2 <= L1;
		end
		for(int unsigned  pe = 0; pe < PE; pe++) begin
			for(int unsigned  s = 0; s < N2; s++) begin
				P2[pe][s] <= (s < SIMD)? mul(W1[pe][s], A1[s]) : prod_t'(0);
			end
		end
	end

	// Adder tree: level l has N2 >> l nodes of PW + l bits
	localparam int unsigned  SW = PW + TREE_LEVELS;	// width of the tree's root
	logic  Vt[TREE_LEVELS+1];
	logic  Lt[TREE_LEVELS+1];
	assign	Vt[0] = V2;
	assign	Lt[0] = L2;
	for(genvar  l = 0; l <= TREE_LEVELS; l++) begin : genLvl
		localparam int unsigned  N = N2 >> l;
		localparam int unsigned  WL = PW + l;
		// register after every LEVELS_PER_STAGE levels, and always at the root
		localparam bit  REG = (l > 0) && ((l % LEVELS_PER_STAGE == 0) || (l == TREE_LEVELS));
		logic signed [WL-1:0]  s[PE][N];
		if(l == 0) begin : genLeaves
			for(genvar  pe = 0; pe < PE; pe++) begin : genPE
				for(genvar  i = 0; i < N; i++) begin : genI
					assign	s[pe][i] = P2[pe][i];
				end : genI
			end : genPE
		end : genLeaves
		else begin : genAdd
			logic signed [WL-1:0]  sum[PE][N];
			for(genvar  pe = 0; pe < PE; pe++) begin : genPE
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

	// Accumulator: modulo 2^ACCU_WIDTH, exact whenever the row's result fits (FINN sizes
	// ACCU_WIDTH for that).
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
				automatic logic [ACCU_WIDTH-1:0]  root = ACCU_WIDTH'(genLvl[TREE_LEVELS].s[pe][0]);
				automatic logic [ACCU_WIDTH-1:0]  nxt = (Fresh? '0 : Acc[pe]) + root;
				Acc[pe] <= nxt;
				if(Lt[TREE_LEVELS])  ODat[pe] <= nxt;
			end
		end
	end
	assign	ovld = OVld;
	assign	odat = ODat;

endmodule : codesign_mvu_lut_core
