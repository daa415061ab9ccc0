"""finn-plus's RTL data-width converter: its real cycles per frame (codesign.finn.dwc_rtl).

CNV-W1A1 at 3,000 FPS measured 37,632 cycles per frame, not the MVUs' 32,768: the
converter between the SWG (SIMD 16) and the first 64-channel conv's MVU (SIMD 36) takes
4 cycles per 3 input words, and finn-plus counts 0 cycles for it. The small reproduction
here is that converter alone in Verilator.
"""

from __future__ import annotations

import random
from fractions import Fraction
from pathlib import Path

import pytest

from codesign.finn.dwc_rtl import dwc_exp_cycles, vpc_cycles_per_input_word


@pytest.mark.parametrize(
    ("ibits", "obits", "per_word"),
    [
        (16, 36, Fraction(4, 3)),  # CNV-W1A1 SWG -> MVU, 37,632 cycles measured (28,224 words)
        (32, 36, Fraction(16, 9)),  # CNV-W2A2 SWG -> MVU, 50,176 measured (28,224 words)
        (8, 36, Fraction(10, 9)),  # CNV-W2A2, 32,000 measured (28,800 words)
        (1, 18, Fraction(1)),  # shift-register fill: full rate
        (104, 26, Fraction(4)),  # output-bound: 4 output words per input word
        (36, 36, Fraction(1)),  # a wire
    ],
)
def test_vpc_throughput_model(ibits: int, obits: int, per_word: Fraction) -> None:
    assert vpc_cycles_per_input_word(ibits, obits) == per_word


def test_dwc_exp_cycles_counts_the_converter(tmp_path: Path) -> None:
    from codesign.finn.lut_mvau import register

    register()
    model = _dwc_model(tmp_path, 16, 36, prepare=False)
    from qonnx.custom_op.registry import getCustomOp

    inst = getCustomOp(model.graph.node[0])
    assert inst.get_exp_cycles() == dwc_exp_cycles(16, 36, 64 * 9) == 768


def _dwc_model(tmp_path: Path, ibits: int, obits: int, prepare: bool = True) -> object:
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.basic import qonnx_make_model

    shape = [1, 64, 144]  # 144 = lcm(16, 36): whole words on both sides
    node = helper.make_node(
        "StreamingDataWidthConverter_rtl",
        ["inp"],
        ["outp"],
        domain="finn.custom_op.fpgadataflow.rtl",
        backend="fpgadataflow",
        inShape=shape,
        outShape=shape,
        inWidth=ibits,
        outWidth=obits,
        dataType="BINARY",
        name="StreamingDataWidthConverter_rtl_0",
    )
    inp = helper.make_tensor_value_info("inp", TensorProto.FLOAT, shape)
    outp = helper.make_tensor_value_info("outp", TensorProto.FLOAT, shape)
    model = ModelWrapper(qonnx_make_model(helper.make_graph([node], "dwc", [inp], [outp])))
    model.set_tensor_datatype("inp", DataType["BINARY"])
    model.set_tensor_datatype("outp", DataType["BINARY"])
    if prepare:
        from finn.transformation.fpgadataflow.prepare_ip import PrepareIP

        from codesign.finn.context import finn_build_dir

        with finn_build_dir(tmp_path / "finn_build"):
            model = model.transform(PrepareIP("xc7z020clg400-1", 10.0))
    return model


@pytest.mark.verilator
def test_dwc_16_to_36_runs_at_its_exp_cycles_in_verilator(tmp_path: Path) -> None:
    """The converter alone, input always valid, output always ready: 4/3 cycles per word."""
    from codesign.finn.lut_mvau import register
    from codesign.sim import stitch, verilator
    from codesign.sim.harness import parse_trace, write_input
    from codesign.sim.simulation import design_io

    register()
    model = _dwc_model(tmp_path, 16, 36)
    path = tmp_path / "compiled.onnx"
    model.save(str(path))
    io = design_io(path)
    expected = io.analytic["StreamingDataWidthConverter_rtl_0"]
    assert expected == 768  # 576 input words x 4/3 (finn-plus: 0)

    frames = 6
    design = stitch.read_design(path)
    plan = stitch.make_plan(design, verilator.verilator_version(), jobs=1)
    sim = verilator.build(plan, tmp_path / "logs", timeout_s=600)
    rng = random.Random(0)
    words = [rng.getrandbits(io.in_width) for _ in range(io.words_in * frames)]
    write_input(tmp_path / "in.hex", words)
    plusargs = {
        "in": tmp_path / "in.hex",
        "out": tmp_path / "trace",
        "nin": len(words),
        "ipf": io.words_in,
        "opf": io.words_out,
        "nframes": frames,
        "ready_pct": 100,
        "seed": 1,
        "max_cycles": 100 * expected * frames,
        "frame_period": 0,
    }
    verilator.run(sim, plusargs, tmp_path / "logs" / "sim.log", 600)
    trace = parse_trace(tmp_path / "trace")
    assert trace.finished
    # every output bit is an input bit, in order
    ins = "".join(format(w, f"0{io.in_width}b")[::-1] for w in words)
    outs = "".join(format(w, "040b")[::-1][:36] for w in trace.words)
    assert outs == ins
    done = trace.output_done
    interval = (done[-1] - done[1]) / (len(done) - 2)
    assert abs(interval / expected - 1) <= 0.02, (interval, expected)
