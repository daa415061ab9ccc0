// codesign LUT-based matrix-vector unit with finn-plus MVAU_rtl's AXI-stream interface.
//
// Same ports, stream packing and weight handling as finn-rtllib's mvu_vvu_axi (IS_MVU=1):
// the weight stream carries [PE][SIMD][WEIGHT_WIDTH] per cycle from the node's memstream
// (mem_mode internal_decoupled), the input stream [SIMD][ACTIVATION_WIDTH], the output
// [PE][ACCU_WIDTH] padded to whole bytes. The input row is replayed MH/PE times with
// finn-rtllib's replay_buffer. The compute core is codesign_mvu_lut_core (LUTs only).
//
// Flow control: an input is taken only while fewer than QUEUE_DEPTH results are in the
// pipeline or the output queue, so the queue can never overflow whatever the downstream
// backpressure (finn-plus's queue is sized for MAX_IN_FLIGHT and overflows when SIMD == MW).
(* use_dsp = "no" *)
module codesign_mvu_lut_axi #(
	int unsigned  MW,
	int unsigned  MH,
	int unsigned  PE,
	int unsigned  SIMD,
	int unsigned  ACTIVATION_WIDTH,
	int unsigned  WEIGHT_WIDTH,
	int unsigned  ACCU_WIDTH,
	bit  SIGNED_ACTIVATIONS = 0,
	bit  SIGNED_WEIGHTS = 1,
	int unsigned  MODE = 0,
	int unsigned  LEVELS_PER_STAGE = 2,

	localparam int unsigned  WEIGHT_STREAM_WIDTH    = PE * SIMD * WEIGHT_WIDTH,
	localparam int unsigned  WEIGHT_STREAM_WIDTH_BA = (WEIGHT_STREAM_WIDTH + 7)/8 * 8,
	localparam int unsigned  INPUT_STREAM_WIDTH     = SIMD * ACTIVATION_WIDTH,
	localparam int unsigned  INPUT_STREAM_WIDTH_BA  = (INPUT_STREAM_WIDTH  + 7)/8 * 8,
	localparam int unsigned  OUTPUT_STREAM_WIDTH    = PE * ACCU_WIDTH,
	localparam int unsigned  OUTPUT_STREAM_WIDTH_BA = (OUTPUT_STREAM_WIDTH + 7)/8 * 8
)(
	input	logic  ap_clk,
	input	logic  ap_clk2x,	// unused; kept for MVAU_rtl's port list
	input	logic  ap_rst_n,

	input	logic [WEIGHT_STREAM_WIDTH_BA-1:0]  s_axis_weights_tdata,
	input	logic  s_axis_weights_tvalid,
	output	logic  s_axis_weights_tready,

	input	logic [INPUT_STREAM_WIDTH_BA-1:0]  s_axis_input_tdata,
	input	logic  s_axis_input_tvalid,
	output	logic  s_axis_input_tready,

	output	logic [OUTPUT_STREAM_WIDTH_BA-1:0]  m_axis_output_tdata,
	output	logic  m_axis_output_tvalid,
	input	logic  m_axis_output_tready
);
	initial begin
		if(MW % SIMD != 0)  $error("%m: MW (%0d) is not a multiple of SIMD (%0d).", MW, SIMD);
		if(MH % PE != 0)  $error("%m: MH (%0d) is not a multiple of PE (%0d).", MH, PE);
	end

	uwire  rst = !ap_rst_n;

	typedef logic [SIMD-1:0][ACTIVATION_WIDTH-1:0]  act_t;
	typedef logic [PE-1:0][SIMD-1:0][WEIGHT_WIDTH-1:0]  wgt_t;
	typedef logic [PE-1:0][ACCU_WIDTH-1:0]  out_t;

	// Replay the input row MH/PE times (one pass per neuron fold).
	localparam int unsigned  SF = MW/SIMD;
	localparam int unsigned  NF = MH/PE;
	uwire act_t  amvau;
	uwire  alast, afin, avld, ardy;
	replay_buffer #(.LEN(SF), .REP(NF), .W($bits(act_t))) activation_replay (
		.clk(ap_clk), .rst,
		.ivld(s_axis_input_tvalid), .irdy(s_axis_input_tready), .idat(act_t'(s_axis_input_tdata)),
		.ovld(avld), .ordy(ardy), .odat(amvau), .olast(alast), .ofin(afin)
	);

	// Credit-based admission: results in flight plus results queued < QUEUE_DEPTH.
	localparam int unsigned  CORE_DEPTH = 3 + ((SIMD < 2? 0 : $clog2(SIMD)) + LEVELS_PER_STAGE - 1) / LEVELS_PER_STAGE;
	localparam int unsigned  QUEUE_DEPTH = CORE_DEPTH + 4;	// + the queue head and the pop latency
	localparam int unsigned  QA = $clog2(QUEUE_DEPTH);
	localparam int unsigned  QN = 2**QA;
	logic [QA:0]  Credits = 0;	// results taken in and not yet handed out
	uwire  full = Credits >= QUEUE_DEPTH;
	uwire  take = avld && s_axis_weights_tvalid && !full;
	assign	ardy = s_axis_weights_tvalid && !full;
	assign	s_axis_weights_tready = avld && !full;

	uwire  ovld;
	uwire out_t  odat;
	codesign_mvu_lut_core #(
		.PE(PE), .SIMD(SIMD), .SF(SF),
		.ACTIVATION_WIDTH(ACTIVATION_WIDTH), .WEIGHT_WIDTH(WEIGHT_WIDTH), .ACCU_WIDTH(ACCU_WIDTH),
		.SIGNED_ACTIVATIONS(SIGNED_ACTIVATIONS), .SIGNED_WEIGHTS(SIGNED_WEIGHTS),
		.MODE(MODE), .LEVELS_PER_STAGE(LEVELS_PER_STAGE)
	) core (
		.clk(ap_clk), .rst,
		.vld(take), .last(alast), .w(wgt_t'(s_axis_weights_tdata)), .a(amvau),
		.ovld, .odat
	);

	// Output queue (distributed RAM) with a registered head.
	out_t  Mem[QN];
	logic [QA:0]  WP = 0;
	logic [QA:0]  RP = 0;
	logic  OVld = 0;
	out_t  OReg;
	uwire  pop = m_axis_output_tvalid && m_axis_output_tready;
	uwire  load = (WP != RP) && (!OVld || m_axis_output_tready);
	always_ff @(posedge ap_clk) begin
		if(ovld)  Mem[WP[QA-1:0]] <= odat;
	end
	always_ff @(posedge ap_clk) begin
		if(rst) begin
			WP <= 0;
			RP <= 0;
			OVld <= 0;
			Credits <= 0;
		end
		else begin
			if(ovld)  WP <= WP + 1;
			if(load) begin
				RP <= RP + 1;
				OReg <= Mem[RP[QA-1:0]];
				OVld <= 1;
			end
			else if(pop)  OVld <= 0;
			Credits <= Credits + (take && alast) - pop;
		end
	end
	assign	m_axis_output_tvalid = OVld;
	assign	m_axis_output_tdata = OUTPUT_STREAM_WIDTH_BA'(OReg);

endmodule : codesign_mvu_lut_axi
