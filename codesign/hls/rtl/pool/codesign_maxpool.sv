// codesign streaming max-pool for FINN's Pool layer (Function "MaxPool"), after the
// sliding-window generator (FINN's lowering of a max-pool).
//
// Per output pixel the input stream holds K (kernel positions) x CF (= Channels/PE)
// words of PE lanes, kernel position outermost (FINN's Pool input layout
// [..., K*Channels/PE, PE]). A running maximum per channel fold is kept in CF registers;
// on the last kernel position the maximum leaves as one output word of PE lanes.
module codesign_maxpool #(
	int unsigned  PE,
	int unsigned  CF,	// channel folds: Channels / PE
	int unsigned  K,	// kernel positions: prod(KernelSize)
	int unsigned  WIDTH,	// bits per value
	bit  SIGNED = 0,

	localparam int unsigned  STREAM_WIDTH    = PE * WIDTH,
	localparam int unsigned  STREAM_WIDTH_BA = (STREAM_WIDTH + 7)/8 * 8
)(
	input	logic  ap_clk,
	input	logic  ap_rst_n,

	input	logic [STREAM_WIDTH_BA-1:0]  in0_V_TDATA,
	input	logic  in0_V_TVALID,
	output	logic  in0_V_TREADY,

	output	logic [STREAM_WIDTH_BA-1:0]  out0_V_TDATA,
	output	logic  out0_V_TVALID,
	input	logic  out0_V_TREADY
);
	typedef logic [PE-1:0][WIDTH-1:0]  word_t;

	uwire  rst = !ap_rst_n;
	uwire word_t  idat = in0_V_TDATA[STREAM_WIDTH-1:0];

	// position in the window: channel fold (inner) and kernel position (outer)
	localparam int unsigned  CFW = CF < 2? 1 : $clog2(CF);
	localparam int unsigned  KW  = K  < 2? 1 : $clog2(K);
	logic [CFW-1:0]  Fold = 0;
	logic [KW-1:0]   Pos  = 0;
	uwire  first = Pos == 0;
	uwire  last  = Pos == KW'(K-1);

	word_t  Max[CF];
	logic   OVld = 0;
	word_t  ODat;

	uwire  take = in0_V_TVALID && in0_V_TREADY;
	assign	in0_V_TREADY = !last || !OVld || out0_V_TREADY;

	function automatic word_t  vmax(input word_t  a, input word_t  b);
		for(int unsigned  i = 0; i < PE; i++) begin
			if(SIGNED)  vmax[i] = $signed(a[i]) > $signed(b[i])? a[i] : b[i];
			else        vmax[i] = a[i] > b[i]? a[i] : b[i];
		end
	endfunction : vmax

	always_ff @(posedge ap_clk) begin
		if(rst) begin
			Fold <= 0;
			Pos  <= 0;
			OVld <= 0;
		end
		else begin
			if(out0_V_TREADY)  OVld <= 0;
			if(take) begin
				automatic word_t  m = first? idat : vmax(Max[Fold], idat);
				Max[Fold] <= m;
				if(last) begin
					ODat <= m;
					OVld <= 1;
				end
				if(Fold == CFW'(CF-1)) begin
					Fold <= 0;
					Pos  <= last? 0 : Pos + 1;
				end
				else  Fold <= Fold + 1;
			end
		end
	end

	assign	out0_V_TVALID = OVld;
	assign	out0_V_TDATA = STREAM_WIDTH_BA'(ODat);

endmodule : codesign_maxpool
