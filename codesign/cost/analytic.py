"""The analytic per-layer cost model: one explainable term per resource and feature.

Each node kind has a few *features* (numbers computed from its shape, bits and folding:
a constant, stream widths, accumulator width x PE, LUTRAM of its memories, FINN-R's
multiplier and adder-tree LUTs...). LUT and FF are linear in them::

    lut(node) = sum_f coef[kind][f].lut * feature_f(node)

The uncalibrated coefficients below are first guesses from FINN's own estimates and from
the hardware facts in TOOLCHAIN.md; a :class:`~codesign.cost.calibration.Calibration`
replaces them with ones fitted to Yosys (or Vivado) measurements. DSP, BRAM18 and URAM are
rules, not fits:

* DSP: finn-plus's RTL MVU packs ``lanes = 1 + (A_WIDTH - W) // (W + A - 1)`` PEs into one
  DSP48 (``A_WIDTH`` 25 on DSP48E1, 27 on DSP48E2; narrow weights), so a node uses
  ``ceil(PE / lanes) * SIMD`` DSPs (``PE * ceil(SIMD / 3)`` on DSP58). A LUT MVU uses none.
* BRAM18: a memory of more than ``lutram_max_bits`` bits and depth > 64 goes to BRAM (the
  cheapest BRAM18 aspect ratio), else to LUTRAM (a LUT per 64 x 1 bits), where its LUTs
  become a feature. The threshold is fitted per calibration. Threshold memories are
  constants that Yosys maps to LUT logic, never BRAM (measured).
* cycles: FINN's analytic cycles (:mod:`codesign.cost.cycles`), exact.

Example:
    >>> model = AnalyticCostModel()
    >>> from codesign.cost.protocol import LayerKind, LayerSpec
    >>> from codesign.models.bits import Precision
    >>> spec = LayerSpec("MVAU_rtl_0", LayerKind.MVAU, mw=72, mh=16, vectors=49,
    ...                  weight=Precision(4, True), act_in=Precision(4, False), act_out=None,
    ...                  pe=1, simd=6, extra=(("acc", 14.0),))
    >>> cost = model.layer_cost(spec)
    >>> cost.resources.dsp, cost.cycles
    (6, 9408)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from codesign.cost.cycles import extra, layer_cycles
from codesign.cost.protocol import DesignCost, Impl, LayerCost, LayerKind, LayerSpec
from codesign.resources import Resources

__all__ = [
    "DEFAULT_COEFS",
    "XCU_FAMILIES",
    "AnalyticCostModel",
    "Coefs",
    "dsp_count",
    "features",
    "kind_key",
    "mvu_lanes",
    "memory_cost",
    "packed_macs",
    "xcu_lutram",
]

#: (feature -> (lut coef, ff coef)) per kind key (``mvau_dsp``, ``mvau_lut``, ``thresholding``...).
Coefs = Mapping[str, Mapping[str, tuple[float, float]]]

# First guesses (see the module docstring); calibration replaces them.
DEFAULT_COEFS: dict[str, dict[str, tuple[float, float]]] = {
    "mvau_dsp": {
        "base": (120.0, 150.0),
        "acc": (1.5, 3.0),  # PE x accumulator bits: lane split, output registers
        "act_in": (1.0, 2.0),  # SIMD x activation bits: input registers
        "dsps": (8.0, 20.0),  # glue per DSP (operand packing, pipeline)
        "macs": (0.0, 0.0),  # PE x SIMD when PEs share DSP lanes: packing and split
        "wmem": (1.0, 0.0),  # LUTRAM LUTs of the weight memory
        "replay": (1.0, 0.0),  # LUTRAM LUTs of the input replay buffer
        "addr": (2.0, 1.0),  # bits of the memories' address counters
        "bram_mux": (0.5, 0.0),  # output mux over BRAMs cascaded in depth
    },
    "mvau_dsp_packed": {  # PE > 1 (see kind_key); the same terms, fitted on their own
        "base": (120.0, 150.0),
        "acc": (1.5, 3.0),
        "act_in": (1.0, 2.0),
        "dsps": (8.0, 20.0),
        "macs": (0.0, 0.0),
        "wmem": (1.0, 0.0),
        "replay": (1.0, 0.0),
        "addr": (2.0, 1.0),
        "bram_mux": (0.5, 0.0),
    },
    "mvau_lut": {  # FINN-R: c0 + c1 * PE * (mult + addertree + acc), c0 = 300, c1 = 1.1
        "base": (300.0, 150.0),
        "mult": (1.1, 0.5),
        "addertree": (1.1, 1.0),
        "pp": (0.0, 0.0),  # PE x SIMD x W x A: partial-product bits (0: FINN-R's model)
        "acc": (1.1, 3.0),
        "act_in": (1.0, 2.0),
        "wmem": (1.0, 0.0),
        "replay": (1.0, 0.0),
        "addr": (2.0, 1.0),
        "bram_mux": (0.5, 0.0),
    },
    "thresholding": {
        "base": (20.0, 30.0),
        "cmp": (0.5, 1.0),  # PE x output bits x threshold bits: the binary-search stages
        "tmem": (1.0, 0.0),  # LUTRAM LUTs of the threshold memories
        "stream": (0.5, 1.0),  # PE x (threshold bits + output bits)
        "pipe": (0.0, 1.0),  # PE x output bits x input bits: the stages' input registers
        "tcount": (0.5, 0.0),  # PE x (2^out_bits - 1): slots of one threshold set
        "trom": (0.0, 0.0),  # per-channel thresholds' ROM (0: as priced before the term)
    },
    "thresholding_fp": {  # the input quantizer: float input, 32-bit thresholds
        "base": (20.0, 30.0),
        "cmp": (0.3, 1.0),
        "tmem": (0.3, 0.0),
        "stream": (0.5, 1.0),
        "pipe": (0.0, 1.0),
        "tcount": (0.5, 0.0),
    },
    "swg": {
        "base": (40.0, 40.0),
        "width": (2.0, 3.0),
        "buf": (1.0, 0.0),
        "window": (0.5, 1.0),
        "counters": (8.0, 4.0),  # log2 bits of the frame and buffer counters
        "kernel_loops": (60.0, 20.0),
    },
    "fmpadding": {"base": (40.0, 50.0), "width": (1.0, 2.0)},
    "dwc": {
        "base": (10.0, 10.0),
        "width": (1.0, 1.5),
        # narrowing (vpc.sv genGeneric): PI0 + PO0 slots of GCD bits, each muxed from PI0
        # inputs; its registers are ~in + out bits, which "width" already counts
        "down": (0.8, 0.0),
    },
    "fifo": {"base": (8.0, 6.0), "width": (1.0, 1.0)},  # unsized: depth <= 2
    # sized FIFOs (fifo_regime, fifo.sv's styles), one table each
    "fifo_shift": {
        "reg_depth": (2.0, 0.0),  # per entry: its enable
        "reg_bits": (0.2, 1.0),  # per bit of the byte-padded stream: FF and read mux
        "count": (2.0, 2.0),  # occupancy counter bits
    },
    "fifo_lutram": {"base": (8.0, 6.0), "lutram": (1.0, 0.0), "count": (2.0, 2.0)},
    "fifo_bram": {
        "base": (20.0, 20.0),
        "bram_pipe": (1.0, 2.0),  # output pipeline registers, per padded bit
        "queue": (0.2, 1.0),  # ultra's 16-entry output queue (BRAM on 7-series)
        "count": (2.0, 2.0),
    },
    "vvau": {
        "base": (120.0, 150.0),
        "acc": (1.5, 3.0),
        "dsps": (8.0, 20.0),
        "macs": (0.0, 0.0),
        "wmem": (1.0, 0.0),
        "addr": (2.0, 1.0),
        "bram_mux": (0.5, 0.0),
    },
    "pool": {"base": (60.0, 60.0), "width": (2.0, 2.0)},
}

#: Deepest FIFO that Yosys builds from registers rather than LUTRAM (measured on sized
#: quickstart FIFOs: depth 58 x 8 bits -> 473 FF, 0 LUTRAM; depth 101 x 16 -> LUTRAM).
_A_WIDTH = {"xc7": 25, "xcu": 27, "xcup": 27}
#: BRAM18 aspect ratios (depth, width).
#: A threshold stage's constant memory above this many bits goes to BRAM in Yosys (between
#: the measured 8,448 bits in LUTs and 16,896 in BRAM).
_THRESHOLD_ROM_BRAM_BITS = 12288
#: Yosys's memory-library costs (share/xilinx: lutrams_xc5v.txt, brams_xc4v.txt).
_YOSYS_LUTRAM_COST = 8  # one RAM64M / RAM32M cell (4 LUTs)
_YOSYS_BRAM18_COST = 129
_BRAM18_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))
#: Families whose Yosys LUTRAM library is ``lutrams_xcu.txt`` (priced by :func:`xcu_lutram`).
XCU_FAMILIES = frozenset({"xcu", "xcup"})


def fifo_style(depth: int, width: int) -> str:
    """finn-rtllib ``fifo.sv``'s memory style at ``RAM_STYLE = "auto"`` (width: padded bits).

    ``shift`` (registers), ``distributed`` (LUTRAM), ``block`` (BRAM) or ``ultra`` (URAM).
    """
    if depth <= 33 or (depth <= 64 and width < 12):
        return "shift"
    if depth <= 257 or width < 5:
        return "distributed"
    return "block" if depth <= 2028 else "ultra"


def fifo_mem_depth(depth: int, style: str) -> int:
    """Entries of ``fifo.sv``'s memory (``MEM_IMPL``) for a block/ultra FIFO of ``depth``."""
    ultra = style == "ultra"
    min_abits, qdepth = (12, 16) if ultra else (9, 0)
    req = max(2, depth - qdepth - 1)
    lo, hi = _clog2(req), 0
    if lo > min_abits:
        hi_abits = _clog2(req - 2 ** (lo - 1))
        if hi_abits < lo - 1:
            lo, hi = lo - 1, max(1, hi_abits)
    return 2**lo + (2**hi if hi else 0)


def fifo_regime(spec: LayerSpec) -> str | None:
    """A sized FIFO's coefficient table (None for the unsized depth <= 2 FIFOs, ``fifo``).

    ``fifo_shift`` (registers), ``fifo_lutram`` or ``fifo_bram``: :func:`fifo_style`,
    except that Yosys maps a "distributed" FIFO to BRAM when its memory library prices that
    lower (LUTRAM cell 8, BRAM18 129; measured: 135 x 8 in LUTRAM, 153 x 24 and 177 x 16
    in one BRAM18 each).
    """
    depth = int(extra(spec, "depth", 2))
    if depth <= 2:
        return None
    padded = 8 * math.ceil(extra(spec, "width", spec.act_in.bits) / 8)
    style = fifo_style(depth, padded)
    if style == "shift":
        return "fifo_shift"
    if style == "distributed":
        # the memory's address is clog2(depth) bits: 2^clog2(depth) entries (measured:
        # 132 x 8 takes 48 LUTRAM LUTs like 256 x 8, 121 x 8 24 like 128 x 8)
        lut, _ = memory_cost(2 ** _clog2(depth), int(padded), math.inf)
        _, br = memory_cost(depth, int(padded), 0.0)
        # Yosys's library prices a BRAM18 (129) like 16 LUTRAM cells (8 each): measured
        # 12 cells (101 x 16) stay LUTRAM, 16 (97..125 x 24) go to one BRAM18
        if lut / 4 * _YOSYS_LUTRAM_COST < br * (_YOSYS_BRAM18_COST - 1):
            return "fifo_lutram"
    return "fifo_bram"


def kind_key(spec: LayerSpec) -> str:
    """The coefficient table of a node: its kind, with the MVU implementation."""
    if spec.kind is LayerKind.MVAU:
        if spec.impl is Impl.LUT:
            return "mvau_lut"
        # PE > 1: PEs share DSP lanes (lane packing and split logic around every DSP);
        # PE = 1: one MAC per DSP, a leaner datapath (measured: ~20 LUT per DSP, not ~40)
        return "mvau_dsp_packed" if spec.pe > 1 else "mvau_dsp"
    if spec.kind is LayerKind.THRESHOLDING and extra(spec, "fp"):
        return "thresholding_fp"  # float input (FPARG): another comparator datapath
    if spec.kind is LayerKind.FIFO:
        return fifo_regime(spec) or "fifo"
    return spec.kind.value


def mvu_lanes(weight_bits: int, act_bits: int, family: str) -> int:
    """PEs finn-plus's RTL MVU packs into one DSP48 (mvu.sv's NUM_LANES, narrow weights)."""
    a_width = _A_WIDTH.get(family, 25)
    if a_width == weight_bits:
        return 1
    return 1 + (a_width - weight_bits) // (weight_bits + act_bits - 1)


def dsp_count(spec: LayerSpec, family: str) -> int:
    """DSP slices of a matrix/vector unit (0 for a LUT MVU and for other kinds)."""
    if spec.kind not in (LayerKind.MVAU, LayerKind.VVAU) or spec.impl is Impl.LUT:
        return 0
    if spec.weight is None:
        return 0
    if family == "versal":
        return spec.pe * math.ceil(spec.simd / 3)
    lanes = mvu_lanes(spec.weight.bits, spec.act_in.bits, family)
    if spec.kind is LayerKind.VVAU:
        return math.ceil(spec.pe / lanes) * spec.simd
    return math.ceil(spec.pe / lanes) * spec.simd


def _clog2(x: float) -> int:
    """Bits of a counter over ``x`` values (Verilog's $clog2)."""
    return max(1, math.ceil(math.log2(max(2.0, x))))


def packed_macs(spec: LayerSpec, family: str) -> int:
    """MACs of a DSP MVU whose PEs share DSP lanes (0 when each DSP holds one PE)."""
    if spec.kind is not LayerKind.MVAU or spec.impl is Impl.LUT or spec.weight is None:
        return 0
    if spec.pe <= 1 or family == "versal":
        return 0
    if mvu_lanes(spec.weight.bits, spec.act_in.bits, family) <= 1:
        return 0
    return spec.pe * spec.simd


def bram_mux_bits(
    depth: int,
    width: int,
    lutram_max_bits: float,
    family: str = "xc7",
    single_port: bool = False,
) -> float:
    """Output-mux inputs of a BRAM memory cascaded in depth: width x (BRAMs deep - 1).

    A memory deeper than one BRAM18 of the chosen aspect ratio reads through a LUT
    multiplexer over the cascade (0 for LUTRAM memories and single-BRAM-deep ones).
    """
    if depth <= 0 or width <= 0:
        return 0.0
    if family in XCU_FAMILIES:
        if not _xcu_in_bram(depth, width, lutram_max_bits, single_port):
            return 0.0
    elif not (depth * width > lutram_max_bits and depth > 64):
        return 0.0
    d, w = min(_BRAM18_SHAPES, key=lambda s: math.ceil(width / s[1]) * math.ceil(depth / s[0]))
    return float(width * (math.ceil(depth / d) - 1))


def _bram18s(depth: int, width: int) -> int:
    """BRAM18s of a memory at the cheapest aspect ratio."""
    return min(math.ceil(width / w) * math.ceil(depth / d) for d, w in _BRAM18_SHAPES)


def xcu_lutram(depth: int, width: int, single_port: bool = False) -> tuple[float, float]:
    """(LUTs, Yosys library cost) of a LUTRAM memory on UltraScale(+) (``lutrams_xcu.txt``).

    Simple dual port (replay buffers, SWG line buffers): RAM32M16 (32 x 14 bits) or RAM64M8
    (64 x 7), 8 LUTs each, the option of lower cost (16 per cell, scaled by the width used;
    measured: 600 x 2 -> 16 RAM64M8 = 128 LUTs where xc7's RAM64M rule gives 40, 159 x 8
    -> 5 RAM32M16, 101 x 18 -> 6 RAM64M8). Single port (MVAU weights): up to 32 entries
    RAM32M16 (32 x 16); deeper, one cell per bit of 2^a entries (RAM64X1S..RAM512X1S: 1, 2,
    4, 8 LUTs), ``a`` the cheapest in LUTs plus 0.2 per cell stacked in depth (Yosys's
    choices on the xcup DoE: 150 deep -> 3 x 64, 360 -> 3 x 128, 400 and 432 -> 1 x 512).
    """
    if depth <= 0 or width <= 0:
        return 0.0, 0.0
    if single_port:
        if depth <= 32:
            cells = math.ceil(width / 16)
            return 8.0 * cells, 16.0 * width / 16
        best = min(
            (math.ceil(depth / 2**a) * 2 ** (a - 6) + 0.2 * (math.ceil(depth / 2**a) - 1), -a)
            for a in range(6, 10)
        )
        a = -best[1]
        luts = float(width * math.ceil(depth / 2**a) * 2 ** (a - 6))
        return luts, 2.0 * luts
    c32 = math.ceil(depth / 32)
    c64 = math.ceil(depth / 64)
    if depth <= 32 or c32 * 7 < c64 * 14:  # cost 16 c32 w / 14 < 16 c64 w / 7
        return 8.0 * c32 * math.ceil(width / 14), 16.0 * c32 * width / 14
    return 8.0 * c64 * math.ceil(width / 7), 16.0 * c64 * width / 7


#: Yosys's LUTRAM/BRAM choice on UltraScale(+), measured per memory on the fit points of the
#: xcup DoE (81 MVAU weight and replay memories): (deeper than, more bits than) -> BRAM.
#: Single port (weights): deeper than 320 (between the measured 288 x 8, LUTRAM, and
#: 384 x 12, BRAM) above 2,048 bits (432 x 3, 400 x 4, 360 x 5 stayed LUTRAM; 750 x 3,
#: 640 x 6, 400 x 10 went to BRAM); simple dual port (replay buffers): deeper than 128 above 2,560
#: bits (1024 x 2, 512 x 5, 128 x 24 LUTRAM; 512 x 6, 2048 x 2 BRAM). Shallower memories go
#: to BRAM only above 8,192 bits (120 x 40 LUTRAM, 100 x 144 BRAM), never up to 64 entries
#: (50 x 384 weights: 384 RAM64X1S).
XCU_BRAM_RULE = {"sp": (320, 2048), "sdp": (128, 2560), "shallow_bits": 8192}


def _xcu_in_bram(depth: int, width: int, lutram_max_bits: float, single_port: bool) -> bool:
    """Yosys's LUTRAM/BRAM choice on UltraScale(+) (:data:`XCU_BRAM_RULE`).

    ``lutram_max_bits`` 0 forces BRAM and infinity LUTRAM (``ram_style``); any other value
    leaves the choice to the measured rule.
    """
    if lutram_max_bits == math.inf:
        return False
    if lutram_max_bits <= 0:
        return True
    min_depth, min_bits = XCU_BRAM_RULE["sp" if single_port else "sdp"]
    bits = depth * width
    if depth <= 64:  # one LUTRAM cell deep at any width (measured: 50 x 384 weights)
        return False
    return (depth > min_depth and bits > min_bits) or bits > XCU_BRAM_RULE["shallow_bits"]


def memory_cost(
    depth: int,
    width: int,
    lutram_max_bits: float,
    family: str = "xc7",
    single_port: bool = False,
) -> tuple[float, float]:
    """(LUTRAM LUTs, BRAM18) of a ``depth`` x ``width`` memory.

    ``family`` ``xcu``/``xcup``: UltraScale(+)'s LUTRAM cells and Yosys's cost choice
    between LUTRAM and BRAM (:func:`xcu_lutram`); other families: the 7-series rule below
    (``lutram_max_bits``, RAM64M/RAM32M), which the shipped xc7 calibration was fitted with.
    """
    if depth <= 0 or width <= 0:
        return 0.0, 0.0
    if family in XCU_FAMILIES:
        if _xcu_in_bram(depth, width, lutram_max_bits, single_port):
            return 0.0, float(_bram18s(depth, width))
        return xcu_lutram(depth, width, single_port)[0], 0.0
    if depth * width > lutram_max_bits and depth > 64:
        return 0.0, float(_bram18s(depth, width))
    # Yosys's simple-dual-port LUTRAMs (share/xilinx/lutrams_xc5v.txt): RAM64M (64 x 3 bits)
    # and, up to 32 entries, RAM32M (32 x 6 bits); 4 LUTs each
    if depth <= 32:
        return float(4 * math.ceil(width / 6)), 0.0
    return float(4 * math.ceil(width / 3) * math.ceil(depth / 64)), 0.0


def features(
    spec: LayerSpec, lutram_max_bits: float, family: str = "xc7"
) -> tuple[dict[str, float], float]:
    """The LUT/FF features of one node, and its BRAM18 count (a rule).

    ``family`` picks the memory rule (:func:`memory_cost`); on ``xcu``/``xcup`` the MVAU
    weight memory is single-port (memstream's) and the replay buffer holds 2^clog2(MW/SIMD)
    entries (``replay_buffer.sv``'s ``Mem[2**AWIDTH]``). 7-series keeps the rule its
    shipped calibration was fitted with.
    """
    kind = spec.kind
    xcu = family in XCU_FAMILIES
    a = spec.act_in.bits
    bram = 0.0
    if kind in (LayerKind.MVAU, LayerKind.VVAU):
        w = spec.weight.bits if spec.weight is not None else 1
        acc = extra(spec, "acc", w + a + math.ceil(math.log2(max(2, spec.mw))))
        k2 = int(extra(spec, "k", 1)) ** 2 if kind is LayerKind.VVAU else 1
        depth = (spec.mh // spec.pe) * ((spec.mw if k2 == 1 else k2) // spec.simd)
        wwidth = spec.pe * spec.simd * w
        wlut, wbram = memory_cost(depth, wwidth, lutram_max_bits, family, single_port=xcu)
        bram += wbram
        rdepth = spec.mw // spec.simd
        if xcu:
            rdepth = 2 ** _clog2(rdepth)
        f = {
            "base": 1.0,
            "acc": spec.pe * acc,
            "wmem": wlut,
            # address counters of the weight memory and the input replay buffer (also
            # when the memories are in BRAM, where wmem/replay count no LUTs)
            "addr": float(_clog2(depth) + _clog2(spec.mw // spec.simd)),
            "bram_mux": bram_mux_bits(depth, wwidth, lutram_max_bits, family, single_port=xcu)
            + (
                bram_mux_bits(rdepth, spec.simd * a, lutram_max_bits, family)
                if kind is LayerKind.MVAU and spec.mh > spec.pe
                else 0.0
            ),
        }
        if kind is LayerKind.MVAU:
            f["act_in"] = spec.simd * a
            if spec.mh > spec.pe:
                rlut, rbram = memory_cost(rdepth, spec.simd * a, lutram_max_bits, family)
                f["replay"] = rlut
                bram += rbram
            else:
                f["replay"] = 0.0
        if spec.impl is Impl.LUT:
            wa = w + a
            f["mult"] = spec.pe * spec.simd * (2 * math.ceil(wa / 6) - 1) * wa
            f["addertree"] = spec.pe * wa * (2 * spec.simd - 1)
            # the kernel's lanes sum exactly w x a partial-product bits (Baugh-Wooley):
            # their compressors grow with the product, not with w + a
            f["pp"] = spec.pe * spec.simd * w * a
        else:
            f["dsps"] = 0.0  # filled by the model (family-dependent)
            # lane packing and split per multiply-accumulate when PEs share a DSP's lanes
            # (PE x SIMD; filled by the model: the lanes are family-dependent). At PE = 1
            # a DSP holds one MAC and only the per-DSP glue remains
            f["macs"] = 0.0
        return f, bram
    if kind is LayerKind.THRESHOLDING:
        out_bits = spec.act_out.bits if spec.act_out is not None else 1
        tbits = extra(spec, "tbits", a)
        # threshold sets per PE: the matrix's rows (1 for per-tensor scales; else one per
        # channel), folded over PE. finn-plus's RTL stores stage s's 2^s thresholds of each
        per_pe = max(1, math.ceil(extra(spec, "trows", spec.mh) / spec.pe))
        # The thresholds are constants: Yosys turns a stage's memory into LUT logic (ROM;
        # LUT6s as 64 x 1 ROMs, measured LUTRAM 0 in every thresholding node) up to
        # _THRESHOLD_ROM_BRAM_BITS, bigger ones into BRAM (measured: a trained o=8, 12-row
        # layer's 1,536 x 11 last stage took 2 BRAM18, its 768 x 11 stage none)
        tmem = trom = 0.0
        for stage in range(out_bits):
            words = per_pe * 2**stage
            if words * tbits > _THRESHOLD_ROM_BRAM_BITS:
                _, br = memory_cost(words, int(tbits), 0.0)
                bram += br * spec.pe
                continue
            tmem += int(tbits) * math.ceil(words / 64) * spec.pe
            # per-channel (trained) thresholds: the stored constants beyond the first set,
            # in LUT6 ROM units (measured: trained layers of #15's winners cost 1.3-1.9x
            # what the per-tensor DoE fit gave them)
            trom += spec.pe * (per_pe - 1) * 2**stage * tbits / 64.0
        return {
            "base": 1.0,
            "cmp": spec.pe * out_bits * tbits,
            "tmem": tmem,
            "stream": spec.pe * (tbits + out_bits),
            # the input value travels down the out_bits search stages with its result
            "pipe": spec.pe * out_bits * a,
            # threshold slots of one set (the stages' address and select logic grows with
            # 2^out_bits - 1); more sets (per-channel thresholds) cost their ROM, trom
            "tcount": spec.pe * (2**out_bits - 1),
            "trom": trom,
        }, bram
    if kind is LayerKind.SWG:
        k = int(extra(spec, "k", 1))
        ifm = int(extra(spec, "ifm", 1))
        cf = spec.mh // spec.simd
        depth = ((k - 1) * ifm + k) * cf
        # finn-plus's SWG buffer is ram_style "distributed" by default: LUTRAM at any size
        # (measured: 680 x 12 and 133 x 24 buffers, 0 BRAM); "block"/"auto" by the rule
        threshold = lutram_max_bits if extra(spec, "ram_block") else math.inf
        blut, bbram = memory_cost(depth, spec.simd * a, threshold, family)
        window = k * k if extra(spec, "parallel") else 1
        # the controller's counters and comparators (finn-plus swg_template_*.sv): element
        # counters over the whole input frame (ifm^2 x channel folds) and the buffer
        # addresses, each a few LUTs per bit (measured: 28-pixel SWGs cost ~2x 8-pixel ones)
        counters = _clog2(ifm * ifm * cf) + _clog2(depth)
        return {
            "base": 1.0,
            "width": spec.simd * a,
            "buf": blut,
            "window": spec.simd * a * window,
            "counters": float(counters),
            # k > 1: the controller's kernel loops and head/tail address increments (a 1x1
            # window is a plain downsampler: measured ~80-110 LUT against ~210-270)
            "kernel_loops": 1.0 if k > 1 and not (xcu and window > 1) else 0.0,
        }, bbram
    if kind is LayerKind.FMPADDING:
        return {"base": 1.0, "width": spec.simd * a}, 0.0
    if kind is LayerKind.DWC:
        w_in, w_out = extra(spec, "in_width"), extra(spec, "out_width")
        # narrowing: the wide word is shifted out in in/out steps (measured: 200 -> 20 bits
        # costs ~1,650 LUT, 75 -> 15 ~340, widening 8 -> 24 ~25): in x in/out
        down = w_in * w_in / w_out if w_out and w_in > w_out else 0.0
        return {"base": 1.0, "width": w_in + w_out, "down": down}, 0.0
    if kind is LayerKind.FIFO:
        width = extra(spec, "width", a)
        depth = int(extra(spec, "depth", 2))
        regime = fifo_regime(spec)
        if regime is None:
            return {"base": 1.0, "width": width * depth}, 0.0
        padded = 8 * math.ceil(width / 8)  # AXI-stream widths are whole bytes in the RTL
        # occupancy counters (Count, MaxCount) of every sized FIFO
        count = float(_clog2(depth + 1) + 1)
        if regime == "fifo_shift":
            # registers in Yosys: a flip-flop per bit, a per-entry enable and a read mux
            return {"reg_depth": float(depth), "reg_bits": padded * depth, "count": count}, 0.0
        if regime == "fifo_lutram":
            lut, _ = memory_cost(2 ** _clog2(depth), int(padded), math.inf)
            return {"base": 1.0, "lutram": lut, "count": count}, 0.0
        # block (and ultra, which 7-series parts lack: Yosys maps it to BRAM too, measured):
        # a memory of fifo_mem_depth entries at the cheapest BRAM18 aspect, its output
        # pipeline (ultra: also a 16-entry output queue)
        style = fifo_style(depth, padded)
        _, br = memory_cost(fifo_mem_depth(depth, style), int(padded), 0.0)
        queue = padded * 16.0 if style == "ultra" else 0.0
        return {"base": 1.0, "bram_pipe": padded, "queue": queue, "count": count}, br
    return {"base": 1.0, "width": spec.simd * a}, 0.0


@dataclass
class AnalyticCostModel:
    """The analytic model, with given (or the default, uncalibrated) coefficients.

    Attributes:
        family: Device family (``xc7``, ``xcup``, ``versal``...) for the DSP rule.
        coefs: LUT/FF coefficients per kind key and feature.
        lutram_max_bits: The LUTRAM/BRAM threshold of the memory rule.
        overhead: Design-level stitching overhead: ``(const, per_node)`` resources.
        in_design: Per kind key (``*``: every other kind), the (LUT, FF) fraction of a
            node's stand-alone price that it does not cost inside a whole design (a
            negative number: Yosys optimizes across node boundaries, e.g. the constant
            bits of byte-padded streams into a LUT MVU). Priced as the node's
            ``<kind>.in_design`` term; :meth:`standalone` drops it (per-layer synthesis).
        version: Names the coefficients (``analytic-0`` when uncalibrated).
    """

    family: str = "xc7"
    coefs: Coefs = field(default_factory=lambda: DEFAULT_COEFS)
    lutram_max_bits: float = 4096.0
    overhead: tuple[Resources, Resources] = (Resources(), Resources())
    in_design: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    version: str = "analytic-0"
    _cache: dict[LayerSpec, LayerCost] = field(default_factory=dict, repr=False, compare=False)

    def terms(self, spec: LayerSpec) -> tuple[tuple[str, Resources], ...]:
        """Each term of a node's price, by feature (the printable explanation)."""
        feats, bram = features(spec, self.lutram_max_bits, self.family)
        key = kind_key(spec)
        table = self.coefs.get(key, {})
        dsp = dsp_count(spec, self.family)
        if "dsps" in feats:
            feats["dsps"] = float(dsp)
            feats["macs"] = float(packed_macs(spec, self.family))
        out = []
        for name, value in feats.items():
            c_lut, c_ff = table.get(name, (0.0, 0.0))
            out.append((f"{key}.{name}", Resources(lut=c_lut * value, ff=c_ff * value)))
        share = self.in_design.get(key, self.in_design.get("*"))
        if share is not None and (share[0] or share[1]):
            lut = sum(r.lut for _, r in out)
            ff = sum(r.ff for _, r in out)
            out.append((f"{key}.in_design", Resources(lut=share[0] * lut, ff=share[1] * ff)))
        if bram:
            out.append((f"{key}.bram", Resources(bram18=bram)))
        if dsp:
            out.append((f"{key}.dsp_rule", Resources(dsp=dsp)))
        return tuple(out)

    def standalone(self) -> AnalyticCostModel:
        """The same model pricing nodes synthesized on their own (no in-design share)."""
        return replace(self, in_design={}, _cache={})

    def layer_cost(self, layer: LayerSpec) -> LayerCost:
        """The price of one node (cached: specs are immutable)."""
        hit = self._cache.get(layer)
        if hit is not None:
            return hit
        terms = self.terms(layer)
        lut = ff = bram = dsp = 0.0
        for _, r in terms:
            lut += r.lut
            ff += r.ff
            bram += r.bram18
            dsp += r.dsp
        cost = LayerCost(
            resources=Resources(lut=max(0.0, lut), ff=max(0.0, ff), bram18=bram, dsp=dsp),
            cycles=layer_cycles(layer),
            terms=terms,
        )
        if len(self._cache) > 200_000:
            self._cache.clear()
        self._cache[layer] = cost
        return cost

    def design_cost(self, layers: Sequence[LayerSpec]) -> DesignCost:
        """Sum of the nodes plus the stitching overhead; cycles = the bottleneck's."""
        const, per_node = self.overhead
        n = len(layers)
        lut = const.lut + per_node.lut * n
        ff = const.ff + per_node.ff * n
        bram = const.bram18 + per_node.bram18 * n
        uram = const.uram + per_node.uram * n
        dsp = const.dsp + per_node.dsp * n
        cycles = 0
        costs = []
        for spec in layers:
            c = self.layer_cost(spec)
            costs.append(c)
            r = c.resources
            lut += r.lut
            ff += r.ff
            bram += r.bram18
            uram += r.uram
            dsp += r.dsp
            if c.cycles > cycles:
                cycles = c.cycles
        return DesignCost(
            resources=Resources(lut=lut, ff=ff, bram18=bram, uram=uram, dsp=dsp),
            cycles=cycles,
            layers=tuple(costs),
        )

    def explain(self, layers: Sequence[LayerSpec]) -> list[dict[str, object]]:
        """One row per node and term (for tables and JSON)."""
        rows: list[dict[str, object]] = []
        for spec in layers:
            for name, r in self.layer_cost(spec).terms:
                rows.append({"layer": spec.name, "term": name, **r.to_dict()})
        return rows
