"""One MVAU as its own run folder: for kernel benchmarks and per-precision checks.

:func:`single_mvau_run` builds a one-node FINN dataflow model (random integer weights of
the given precision, standalone activation), specializes it to the DSP or the LUT kernel,
sets PE/SIMD, generates its RTL and writes a run folder (``compiled.onnx``,
``config.yaml``, ``estimates.json``, ``finn_build/``) that ``codesign.synth.synthesize``
takes like any compiled design.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign.cost.protocol import Impl
from codesign.io import atomic_write_json, atomic_write_text


@dataclass(frozen=True)
class MvuShape:
    """Matrix size and folding of the benchmark MVU.

    Attributes:
        mw: Input features (matrix width).
        mh: Output features (matrix height).
        pe: Output parallelism.
        simd: Input parallelism.
    """

    mw: int = 64
    mh: int = 16
    pe: int = 4
    simd: int = 8


def operand_types(weight_bits: int, act_bits: int) -> tuple[str, str, bool]:
    """Qonnx type names ``(weights, activations, xnor)`` for a ``w``/``a`` point.

    Weights are signed (``INTw``); 1-bit weights are bipolar (+-1). Activations are
    unsigned (``UINTa``, ``BINARY`` for 1 bit); W1A1 is FINN's XNOR-popcount mode.
    """
    if weight_bits == 1 and act_bits == 1:
        return "BINARY", "BINARY", True
    wdt = "BIPOLAR" if weight_bits == 1 else f"INT{weight_bits}"
    idt = "BINARY" if act_bits == 1 else f"UINT{act_bits}"
    return wdt, idt, False


def single_mvau_run(
    out_dir: Path,
    weight_bits: int,
    act_bits: int,
    impl: Impl,
    shape: MvuShape = MvuShape(),
    part: str = "xc7z020clg400-1",
    board: str = "pynq-z2",
    clock_ns: float = 10.0,
    seed: int = 0,
) -> Path:
    """Write the run folder of one MVAU (see the module docstring) and return its path.

    Raises:
        ValueError: The DSP kernel cannot take this precision (1-bit operands).
    """
    from finn.transformation.fpgadataflow.minimize_accumulator_width import (
        MinimizeAccumulatorWidth,
    )
    from finn.transformation.fpgadataflow.prepare_ip import PrepareIP
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp
    from qonnx.transformation.general import GiveUniqueNodeNames
    from qonnx.util.basic import qonnx_make_model

    from codesign.finn.config import CompileConfig
    from codesign.finn.context import finn_build_dir
    from codesign.finn.estimates import estimate
    from codesign.finn.lut_mvau import SpecializeLutMVAU, register

    register()
    wname, iname, xnor = operand_types(weight_bits, act_bits)
    if impl == Impl.DSP and min(weight_bits, act_bits) < 2:
        raise ValueError(f"the DSP MVU takes >= 2-bit operands, not W{weight_bits}A{act_bits}")
    wdt, idt = DataType[wname], DataType[iname]
    rng = np.random.default_rng(seed)
    if wdt == DataType["BIPOLAR"]:
        w = rng.choice([-1.0, 1.0], size=(shape.mw, shape.mh))
    else:  # narrow range, as Brevitas's default and the DSP kernel on xc7 need
        w = rng.integers(wdt.min() + int(wdt.signed()), wdt.max() + 1, (shape.mw, shape.mh))
    inp = helper.make_tensor_value_info("inp", TensorProto.FLOAT, [1, shape.mw])
    outp = helper.make_tensor_value_info("outp", TensorProto.FLOAT, [1, shape.mh])
    node = helper.make_node(
        "MVAU",
        ["inp", "weights"],
        ["outp"],
        domain="finn.custom_op.fpgadataflow",
        backend="fpgadataflow",
        MW=shape.mw,
        MH=shape.mh,
        SIMD=shape.simd,
        PE=shape.pe,
        inputDataType=idt.name,
        weightDataType=wdt.name,
        outputDataType="INT32",
        noActivation=1,
        binaryXnorMode=int(xnor),
        mem_mode="internal_decoupled",
        resType=str(impl),
        preferred_impl_style="rtl",
    )
    graph = helper.make_graph([node], "single_mvau", [inp], [outp])
    model = ModelWrapper(qonnx_make_model(graph, producer_name="codesign"))
    model.set_tensor_datatype("inp", idt)
    model.set_tensor_datatype("outp", DataType["INT32"])
    model.set_tensor_datatype("weights", wdt)
    model.set_initializer("weights", w.astype(np.float32))
    run_dir = Path(out_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    with finn_build_dir(run_dir / "finn_build"):
        model = model.transform(MinimizeAccumulatorWidth())
        model = model.transform(SpecializeLutMVAU()).transform(SpecializeLayers(part))
        model = model.transform(GiveUniqueNodeNames())
        inst = getCustomOp(model.graph.node[0])
        inst.set_nodeattr("PE", shape.pe)
        inst.set_nodeattr("SIMD", shape.simd)
        model = model.transform(PrepareIP(part, clock_ns))
        est = estimate(model, part, clock_ns)
    model.save(str(run_dir / "compiled.onnx"))
    cfg = CompileConfig(board=board, fps=1.0, part=part, clock_ns=clock_ns, impl=str(impl))
    atomic_write_text(run_dir / "config.yaml", cfg.to_yaml())
    atomic_write_json(run_dir / "estimates.json", est.to_dict())
    return run_dir
