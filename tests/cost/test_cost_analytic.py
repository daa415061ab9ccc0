"""The analytic cost model: DSP packing rule, memory rule, terms, design sums, speed."""

from __future__ import annotations

import time

import pytest

from codesign.cost.analytic import AnalyticCostModel, dsp_count, memory_cost, mvu_lanes
from codesign.cost.cycles import layer_cycles
from codesign.cost.network import network_layers
from codesign.cost.protocol import CostModel, Impl, LayerKind, LayerSpec
from codesign.models.arch import QUICKSTART_ARCH
from codesign.models.bits import BitConfig, Precision


def _mvau(w: int, a: int, pe: int, simd: int, impl: Impl = Impl.DSP) -> LayerSpec:
    return LayerSpec(
        "MVAU_rtl_0",
        LayerKind.MVAU,
        mw=72,
        mh=16,
        vectors=49,
        weight=Precision(w, True),
        act_in=Precision(a, False),
        act_out=None,
        pe=pe,
        simd=simd,
        impl=impl,
        extra=(("acc", 16.0),),
    )


def test_mvu_lanes_follow_mvu_sv() -> None:
    # mvu.sv: NUM_LANES = 1 + (A_WIDTH - W) / (W + A - 1), A_WIDTH 25 (DSP48E1) / 27 (E2)
    assert mvu_lanes(4, 4, "xc7") == 4
    assert mvu_lanes(8, 8, "xc7") == 2  # the W8A8 MVAU with 2x FINN's DSPs (TOOLCHAIN.md)
    assert mvu_lanes(2, 2, "xc7") == 8
    assert mvu_lanes(8, 8, "xcup") == 2
    assert mvu_lanes(6, 6, "xcup") == 2


def test_dsp_rule_packs_pe_not_simd() -> None:
    assert dsp_count(_mvau(4, 4, pe=1, simd=6), "xc7") == 6  # one MAC per DSP at PE=1
    assert dsp_count(_mvau(4, 4, pe=4, simd=6), "xc7") == 6
    assert dsp_count(_mvau(8, 8, pe=4, simd=6), "xc7") == 12
    assert dsp_count(_mvau(8, 8, pe=4, simd=6), "versal") == 8
    assert dsp_count(_mvau(4, 4, pe=4, simd=6, impl=Impl.LUT), "xc7") == 0


def test_memory_rule() -> None:
    # Yosys's LUTRAM cells: RAM64M (64 x 3 bits) and RAM32M (32 x 6 bits), 4 LUTs each
    assert memory_cost(64, 16, 4096) == (24.0, 0.0)
    assert memory_cost(100, 3, 4096) == (8.0, 0.0)
    assert memory_cost(32, 12, 4096) == (8.0, 0.0)
    lut, bram = memory_cost(2560, 8, 4096)  # 20 kbit: BRAM18 2K x 9
    assert (lut, bram) == (0.0, 2.0)


def test_terms_sum_to_layer_cost_and_lut_mvu_costs_luts() -> None:
    model = AnalyticCostModel()
    assert isinstance(model, CostModel)
    dsp, lut = model.layer_cost(_mvau(4, 4, 2, 6)), model.layer_cost(_mvau(4, 4, 2, 6, Impl.LUT))
    assert sum(r.lut for _, r in dsp.terms) == pytest.approx(dsp.resources.lut)
    assert dsp.resources.dsp == 6 and lut.resources.dsp == 0
    assert lut.resources.lut > dsp.resources.lut
    assert dsp.cycles == lut.cycles == (16 // 2) * (72 // 6) * 49
    # thresholds cost more at 8 than at 2 output bits (2^a - 1 thresholds per channel)
    thr = [
        LayerSpec(
            "t",
            LayerKind.THRESHOLDING,
            16,
            16,
            49,
            None,
            Precision(14, True),
            Precision(a, False),
            extra=(("tbits", 14.0),),
        )
        for a in (2, 8)
    ]
    assert model.layer_cost(thr[1]).resources.lut > model.layer_cost(thr[0]).resources.lut


def test_design_cost_sums_layers_and_takes_the_bottleneck() -> None:
    model = AnalyticCostModel()
    bits = BitConfig.uniform(QUICKSTART_ARCH.n_layers, 4, 4)
    specs = network_layers(QUICKSTART_ARCH, bits, fps=10_000, clock_ns=10.0)
    design = model.design_cost(specs)
    assert design.cycles == max(layer_cycles(s) for s in specs) == 9408
    assert design.resources.lut == pytest.approx(sum(c.resources.lut for c in design.layers))
    assert design.resources.dsp == 14  # measured by Yosys at every width (TOOLCHAIN.md)
    assert len(model.explain(specs)) > len(specs)


def test_whole_design_evaluations_per_second() -> None:
    model = AnalyticCostModel()
    designs = [
        network_layers(
            QUICKSTART_ARCH,
            BitConfig.uniform(QUICKSTART_ARCH.n_layers, w, a),
            fps=10_000,
            clock_ns=10.0,
        )
        for w in (2, 4, 8)
        for a in (2, 4, 8)
    ]
    for d in designs:
        model.design_cost(d)
    t0 = time.perf_counter()
    n = 0
    while n < 3000:
        for d in designs:
            model.design_cost(d)
            n += 1
    rate = n / (time.perf_counter() - t0)
    assert rate > 3000  # the bench measures the real rate (>= 1e4/s on a quiet core)


def _swg(ifm: int, channels: int) -> LayerSpec:
    return LayerSpec(
        "ConvolutionInputGenerator_rtl_0",
        LayerKind.SWG,
        mw=9 * channels,
        mh=channels,
        vectors=1,
        weight=None,
        act_in=Precision(4, False),
        act_out=None,
        extra=(("ifm", float(ifm)), ("ofm", float(ifm // 2)), ("k", 3.0), ("stride", 2.0)),
    )


def _fifo(width: int, depth: int) -> LayerSpec:
    prec = Precision(width, False)
    return LayerSpec(
        "StreamingFIFO_rtl_0",
        LayerKind.FIFO,
        mw=width,
        mh=width,
        vectors=0,
        weight=None,
        act_in=prec,
        act_out=prec,
        extra=(("width", float(width)), ("depth", float(depth))),
    )


def test_swg_counters_grow_with_the_frame() -> None:
    model = AnalyticCostModel()
    small, large = model.layer_cost(_swg(8, 3)), model.layer_cost(_swg(28, 16))
    counters = {name: r.lut for name, r in large.terms}["swg.counters"]
    assert counters > {name: r.lut for name, r in small.terms}["swg.counters"] > 0
    assert large.resources.lut > small.resources.lut


def test_fifo_regimes_registers_then_lutram_then_bram() -> None:
    model = AnalyticCostModel()
    names = {n for n, _ in model.layer_cost(_fifo(4, 25)).terms}
    assert {"fifo_shift.reg_depth", "fifo_shift.reg_bits"} <= names
    # 4-bit streams are padded to a byte: the same registers as an 8-bit FIFO
    assert model.layer_cost(_fifo(4, 25)).resources == model.layer_cost(_fifo(8, 25)).resources
    assert model.layer_cost(_fifo(8, 25)).resources.ff >= 8 * 25
    assert "fifo_lutram.lutram" in {n for n, _ in model.layer_cost(_fifo(16, 101)).terms}
    assert model.layer_cost(_fifo(24, 368)).resources.bram18 == 1


def test_fifo_styles_follow_fifo_sv() -> None:
    from codesign.cost.analytic import fifo_mem_depth, fifo_style

    # finn-rtllib fifo.sv at RAM_STYLE "auto", on the byte-padded width
    assert [fifo_style(d, 8) for d in (33, 64, 65, 257, 258, 2028, 2029)] == [
        "shift",
        "shift",
        "distributed",
        "distributed",
        "block",
        "block",
        "ultra",
    ]
    assert fifo_style(40, 16) == "distributed"  # 34..64 entries: registers only under 12 bits
    assert fifo_mem_depth(801, "block") == 1024
    assert fifo_mem_depth(2560, "block") == 2048 + 512  # fifo.sv's split memory
    model = AnalyticCostModel()
    # Yosys 0.70 measured (#15's winners): a 3674 x 8 "ultra" FIFO in 2 BRAM18 on xc7, a
    # 135 x 8 "distributed" one in LUTRAM, 153 x 24 in one BRAM18 (Yosys's cheaper choice)
    assert model.layer_cost(_fifo(8, 3674)).resources.bram18 == 2
    assert model.layer_cost(_fifo(8, 135)).resources.bram18 == 0
    assert model.layer_cost(_fifo(18, 153)).resources.bram18 == 1


def test_lut_mvu_prices_partial_product_bits() -> None:
    # the LUT MVU's lanes sum w x a partial-product bits: the pp term is PE x SIMD x W x A
    coefs = {k: dict(v) for k, v in AnalyticCostModel().coefs.items()}
    coefs["mvau_lut"]["pp"] = (1.0, 0.0)
    model = AnalyticCostModel(coefs=coefs)
    for w, a in ((2, 2), (4, 4), (8, 8)):
        terms = dict(model.layer_cost(_mvau(w, a, 2, 6, Impl.LUT)).terms)
        assert terms["mvau_lut.pp"].lut == pytest.approx(2 * 6 * w * a)
    # uncalibrated (and older calibration files): no pp coefficient, FINN-R's model alone
    assert dict(AnalyticCostModel().layer_cost(_mvau(8, 8, 2, 6, Impl.LUT)).terms)[
        "mvau_lut.pp"
    ].lut == pytest.approx(0.0)


def test_swg_buffer_is_lutram_unless_its_ram_style_says_block() -> None:
    from codesign.cost.extract import node_spec

    attrs = {
        "SIMD": 2,
        "IFMDim": [20, 20],
        "OFMDim": [16, 16],
        "ConvKernelDim": [5, 5],
        "Stride": [1, 1],
        "IFMChannels": 16,
        "inputDataType": "UINT6",
    }
    model = AnalyticCostModel()
    default = node_spec("ConvolutionInputGenerator_rtl_0", "ConvolutionInputGenerator_rtl", attrs)
    block = node_spec(
        "ConvolutionInputGenerator_rtl_0",
        "ConvolutionInputGenerator_rtl",
        {**attrs, "ram_style": "block"},
    )
    assert default is not None and block is not None
    # finn-plus's default "distributed": a 680 x 12 buffer (Yosys measured 176 LUTRAM, 0 BRAM)
    assert model.layer_cost(default).resources.bram18 == 0
    assert dict(model.layer_cost(default).terms)["swg.buf"].lut > 0
    assert model.layer_cost(block).resources.bram18 >= 1
