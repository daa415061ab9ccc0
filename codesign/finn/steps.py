"""The compile flow as data: an ordered list of named steps ``step(model, ctx) -> model``.

The sequence mirrors finn-plus 1.6.1's ``build_dataflow_steps`` (``step_qonnx_to_finn`` to
``step_hw_codegen``) without importing ``finn.builder`` (which needs Vivado), with three
codesign additions: an early unsupported-node check, the RTL preference and HLS check at
specialization, and folding with feasibility checks and the MVAU_rtl SIMD guard.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import finn.transformation.streamline.absorb as absorb
from finn.transformation.fpgadataflow.convert_to_hw.binary_matrix_vector_activation import (
    InferBinaryMatrixVectorActivation,
)
from finn.transformation.fpgadataflow.convert_to_hw.conv_inp_gen import InferConvInpGen
from finn.transformation.fpgadataflow.convert_to_hw.duplicate_streams import (
    InferDuplicateStreamsLayer,
)
from finn.transformation.fpgadataflow.convert_to_hw.fm_padding import InferFMPadding
from finn.transformation.fpgadataflow.convert_to_hw.global_acc_pool import (
    InferGlobalAccPoolLayer,
)
from finn.transformation.fpgadataflow.convert_to_hw.label_select import InferLabelSelectLayer
from finn.transformation.fpgadataflow.convert_to_hw.pool import InferPool
from finn.transformation.fpgadataflow.convert_to_hw.quantized_matrix_vector_activation import (
    InferQuantizedMatrixVectorActivation,
)
from finn.transformation.fpgadataflow.convert_to_hw.requant import InferRequantLayer
from finn.transformation.fpgadataflow.convert_to_hw.reshape import InferReshape
from finn.transformation.fpgadataflow.convert_to_hw.thresholding import InferThresholdingLayer
from finn.transformation.fpgadataflow.convert_to_hw.vector_vector_activation import (
    InferVectorVectorActivation,
)
from finn.transformation.fpgadataflow.create_dataflow_partition import CreateDataflowPartition
from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
from finn.transformation.fpgadataflow.insert_fifo import InsertFIFO
from finn.transformation.fpgadataflow.minimize_accumulator_width import MinimizeAccumulatorWidth
from finn.transformation.fpgadataflow.minimize_weight_bit_width import MinimizeWeightBitWidth
from finn.transformation.fpgadataflow.prepare_ip import PrepareIP
from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
from finn.transformation.move_reshape import RemoveCNVtoFCFlatten
from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
from finn.transformation.qonnx.give_unique_node_names_recursive import (
    GiveUniqueNodeNamesRecursive,
)
from finn.transformation.qonnx.quant_act_to_multithreshold import (
    default_filter_function_generator,
)
from finn.transformation.streamline import Streamline
from finn.transformation.streamline.reorder import MakeMaxPoolNHWC
from finn.transformation.streamline.round_thresholds import RoundAndClipThresholds
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation
from qonnx.transformation.bipolar_to_xnor import ConvertBipolarMatMulToXnorPopcount
from qonnx.transformation.fold_constants import FoldConstants
from qonnx.transformation.general import (
    GiveReadableTensorNames,
    RemoveStaticGraphInputs,
    RemoveUnusedTensors,
)
from qonnx.transformation.infer_data_layouts import InferDataLayouts
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul
from qonnx.util.cleanup import cleanup_model

from codesign.errors import UnsupportedModelError
from codesign.finn.checks import find_hls_nodes, find_unsupported_nodes, raise_if_issues
from codesign.finn.config import CompileConfig
from codesign.finn.dwc_rtl import fit_converters
from codesign.finn.estimates import Estimates, LayerEstimate, estimate
from codesign.finn.folding import (
    FoldTarget,
    ResourceEstimator,
    finn_estimate,
    fold_to_fps,
    fold_to_lut_budget,
)
from codesign.finn.impl_budget import fit_auto_impl_to_luts
from codesign.finn.lut_mvau import SpecializeLutMVAU, register
from codesign.finn.pool_rtl import SpecializeMaxPool
from codesign.finn.transforms import MoveLeadingFlattenToHost, PreferRTL, SelectMvauImpl
from codesign.io import atomic_write_json
from codesign.resources import Resources

log = logging.getLogger(__name__)

#: Multi-bit activation quantizers at or above this width become Requant instead of
#: Thresholding (finn-plus's default; 2^9 thresholds per channel is where it pays off).
REQUANT_BITWIDTH_THRESHOLD = 9


@dataclass(frozen=True)
class StepContext:
    """What every step may read: the resolved config, the board and the run folder.

    Attributes:
        cfg: The resolved config (``part`` and ``clock_ns`` filled in).
        capacity: Board capacity.
        run_dir: The run folder being written (a temp sibling until the compile succeeds).
        estimate: Prices a folding for the FPS and LUT-budget searches (FINN's estimate
            unless a cost model is passed in).
    """

    cfg: CompileConfig
    capacity: Resources
    run_dir: Path
    estimate: ResourceEstimator = finn_estimate

    @property
    def part(self) -> str:  # noqa: D102
        assert self.cfg.part is not None, "resolve the config before compiling"
        return self.cfg.part

    @property
    def clock_ns(self) -> float:  # noqa: D102
        assert self.cfg.clock_ns is not None, "resolve the config before compiling"
        return self.cfg.clock_ns

    @property
    def parent_path(self) -> Path:
        """``RUN/parent.onnx``: the graph around the dataflow partition."""
        return self.run_dir / "parent.onnx"

    @property
    def estimates_path(self) -> Path:  # noqa: D102
        return self.run_dir / "estimates.json"


Step = Callable[[ModelWrapper, StepContext], ModelWrapper]


def _apply(model: ModelWrapper, *transforms: Transformation) -> ModelWrapper:
    for t in transforms:
        model = model.transform(t)
    return model


def _has(model: ModelWrapper, *op_types: str) -> bool:
    return any(model.get_nodes_by_op_type(op) for op in op_types)


def step_qonnx_to_finn(model: ModelWrapper, ctx: StepContext) -> ModelWrapper:
    """QONNX cleanup, then Quant nodes -> FINN MultiThreshold and quantized initializers."""
    if not _has(model, "Quant", "BipolarQuant", "BinaryQuant", "Trunc"):
        raise UnsupportedModelError(
            "the model has no QONNX Quant nodes: export a quantized "
            "Brevitas model with brevitas.export.export_qonnx"
        )
    model = cleanup_model(model)
    width = ctx.cfg.max_multithreshold_bit_width
    return model.transform(
        ConvertQONNXtoFINN(
            filter_function=default_filter_function_generator(max_multithreshold_bit_width=width)
        )
    )


def step_tidy_up(model: ModelWrapper, ctx: StepContext) -> ModelWrapper:  # noqa: ARG001
    """Shape and datatype inference, constant folding, readable unique names."""
    return _apply(
        model,
        InferShapes(),
        FoldConstants(),
        GiveUniqueNodeNamesRecursive(),
        GiveReadableTensorNames(),
        InferDataTypes(),
        RemoveStaticGraphInputs(),
    )


def step_streamline(model: ModelWrapper, ctx: StepContext) -> ModelWrapper:  # noqa: ARG001
    """Move float scales/biases into thresholds; lower convolutions to Im2Col + MatMul."""
    model = _apply(model, absorb.AbsorbScalarBiasIntoMultiThreshold(), Streamline())
    if _has(model, "Conv"):
        model = _apply(
            model,
            LowerConvsToMatMul(),
            MakeMaxPoolNHWC(),
            absorb.AbsorbTransposeIntoMultiThreshold(),
            MakeMaxPoolNHWC(),
            absorb.AbsorbConsecutiveTransposes(),
        )
    return _apply(
        model,
        ConvertBipolarMatMulToXnorPopcount(),
        Streamline(),
        absorb.AbsorbScalarMulAddIntoTopK(),
        MoveLeadingFlattenToHost(),
        InferShapes(),
        InferDataLayouts(),
        RemoveUnusedTensors(),
    )


def step_convert_to_hw(model: ModelWrapper, ctx: StepContext) -> ModelWrapper:  # noqa: ARG001
    """Convert to FINN HW layers with standalone thresholds (needed for MVAU_rtl).

    Thresholds are made standalone *before* the MatMuls are converted, so every MVAU gets
    ``noActivation=1``; an MVAU with a fused activation is HLS-only.
    """
    if _has(model, "MultiThreshold", "Quant"):
        model = model.transform(InferRequantLayer(bitwidth_threshold=REQUANT_BITWIDTH_THRESHOLD))
    if _has(model, "MultiThreshold"):
        model = model.transform(InferThresholdingLayer())
    if _has(model, "XnorPopcountMatMul"):
        model = model.transform(InferBinaryMatrixVectorActivation())
    if _has(model, "MatMul"):
        model = _apply(model, InferQuantizedMatrixVectorActivation(), InferVectorVectorActivation())
    if _has(model, "TopK"):
        model = model.transform(InferLabelSelectLayer())
    if _has(model, "MultiThreshold", "Quant"):
        model = model.transform(InferRequantLayer(bitwidth_threshold=REQUANT_BITWIDTH_THRESHOLD))
    if _has(model, "MultiThreshold"):
        model = model.transform(InferThresholdingLayer())
    if _has(model, "Pad"):
        model = model.transform(InferFMPadding())
    if _has(model, "MaxPool", "AveragePool", "MaxPoolNHWC", "QuantAvgPool2d"):
        model = model.transform(InferPool())
    if _has(model, "Im2Col"):
        model = model.transform(InferConvInpGen())
    if _has(model, "ConvolutionInputGenerator"):
        model = model.transform(RemoveCNVtoFCFlatten())
    if _has(model, "GlobalAveragePool"):
        model = model.transform(InferGlobalAccPoolLayer())
    model = _apply(
        model,
        InferDuplicateStreamsLayer(),
        absorb.AbsorbConsecutiveTransposes(),
        RemoveCNVtoFCFlatten(),
        GiveUniqueNodeNamesRecursive(),
        InferDataLayouts(),
        InferDataTypes(),
        InferShapes(),
    )
    return model.transform(InferReshape())


def _minimize_bit_width(model: ModelWrapper) -> ModelWrapper:
    """Tighten weight/accumulator widths, round and clip thresholds, tighten again."""
    return _apply(
        model,
        MinimizeWeightBitWidth(),
        MinimizeAccumulatorWidth(),
        InferDataTypes(),
        RoundAndClipThresholds(),
        InferDataTypes(),
        MinimizeWeightBitWidth(),
        InferDataTypes(),
    )


def step_minimize_bit_width_initial(model: ModelWrapper, ctx: StepContext) -> ModelWrapper:  # noqa: ARG001
    """First bit-width minimization, so specialization sees real (not placeholder) widths."""
    return _minimize_bit_width(model)


def step_check_supported(model: ModelWrapper, ctx: StepContext) -> ModelWrapper:
    """Choose DSP or LUT multipliers per MVAU, then fail early naming every non-RTL node.

    The choice (``impl``/``layer_impl``, docs/lowbit.md) is made here because it needs the
    minimized widths and decides what the check accepts (W1A1 only as LUT MVUs).
    """
    register()
    choices = tuple(None if c is None else str(c) for c in (ctx.cfg.layer_impl or ()))
    model = model.transform(SelectMvauImpl(choices, str(ctx.cfg.impl), ctx.part, ctx.capacity.dsp))
    raise_if_issues(find_unsupported_nodes(model, ctx.part), "after conversion to HW layers")
    return model


def step_create_dataflow_partition(model: ModelWrapper, ctx: StepContext) -> ModelWrapper:
    """Split off the HW layers; the parent graph is kept as ``RUN/parent.onnx``."""
    parent = model.transform(
        CreateDataflowPartition(
            partition_model_dir=str(ctx.run_dir / "intermediate" / "partitions")
        )
    )
    sdp = parent.get_nodes_by_op_type("StreamingDataflowPartition")
    if len(sdp) != 1:
        raise UnsupportedModelError(
            f"the HW layers form {len(sdp)} dataflow partitions, not one: nodes "
            f"{[n.name for n in parent.graph.node if n.op_type != 'StreamingDataflowPartition']}"
            " break the chain"
        )
    parent.save(str(ctx.parent_path))
    return ModelWrapper(getCustomOp(sdp[0]).get_nodeattr("model"))


def step_specialize_layers(model: ModelWrapper, ctx: StepContext) -> ModelWrapper:
    """Pick RTL implementations: LUT MVAUs first, then ``preferred_impl_style="rtl"``.

    Any HLS node left is an error.
    """
    model = _apply(
        model,
        SpecializeLutMVAU(),
        SpecializeMaxPool(),
        PreferRTL(),
        SpecializeLayers(ctx.part),
        GiveUniqueNodeNamesRecursive(),
        InferShapes(),
        InferDataTypes(),
    )
    raise_if_issues(find_hls_nodes(model, ctx.part), "after specialization")
    return model


def step_set_folding(model: ModelWrapper, ctx: StepContext) -> ModelWrapper:
    """PE/SIMD to the FPS target or the LUT budget; raises InfeasibleError if impossible.

    With an FPS target, ``auto`` layers first move from LUT to DSP MVUs where the LUT MVUs
    would exceed the board's LUTs (:func:`~codesign.finn.impl_budget.fit_auto_impl_to_luts`),
    and afterwards LUT MVUs whose input converter would be slower than the target are
    refolded (:func:`~codesign.finn.dwc_rtl.fit_converters`).
    """
    target = FoldTarget(
        part=ctx.part,
        clock_ns=ctx.clock_ns,
        capacity=ctx.capacity,
        mvau_wwidth_max=ctx.cfg.mvau_wwidth_max,
    )
    if ctx.cfg.fps is not None:
        n_mvau = len(model.get_nodes_by_op_type("MVAU_rtl"))
        auto = [i for i in range(n_mvau) if str(ctx.cfg.impl_of(i)) == "auto"]
        target_cycles = math.floor(target.f_clk / ctx.cfg.fps)
        if auto and target_cycles >= 1:
            fit_auto_impl_to_luts(model, auto, target, target_cycles, ctx.estimate)
        model = fold_to_fps(model, ctx.cfg.fps, target, ctx.estimate)
        return fit_converters(model, target_cycles, target.mvau_wwidth_max)
    assert ctx.cfg.lut_budget is not None  # CompileConfig guarantees one of the two
    return fold_to_lut_budget(model, ctx.cfg.lut_budget, target, ctx.estimate)


def step_minimize_bit_width(model: ModelWrapper, ctx: StepContext) -> ModelWrapper:  # noqa: ARG001
    """Second bit-width minimization, after the implementation-specific choices."""
    return _minimize_bit_width(model)


def step_estimates(model: ModelWrapper, ctx: StepContext) -> ModelWrapper:
    """Write ``RUN/estimates.json`` (per-layer FINN estimates, bottleneck, FPS)."""
    est = estimate(model, ctx.part, ctx.clock_ns)
    atomic_write_json(ctx.estimates_path, est.to_dict())
    log.info(
        "estimate: bottleneck %s at %d cycles -> %.1f FPS at %.2f ns; total LUT %.0f "
        "BRAM18 %.0f DSP %.0f",
        est.bottleneck,
        est.max_cycles,
        est.fps,
        ctx.clock_ns,
        est.total.lut,
        est.total.bram18,
        est.total.dsp,
    )
    return model


def step_insert_dwc_fifo(model: ModelWrapper, ctx: StepContext) -> ModelWrapper:
    """Data-width converters and shallow FIFOs (their sizing is simulation's job)."""
    model = _apply(
        model,
        InsertDWC(),
        InsertFIFO(create_shallow_fifos=True),
        SpecializeLayers(ctx.part),
        GiveUniqueNodeNamesRecursive(),
        GiveReadableTensorNames(),
    )
    raise_if_issues(find_hls_nodes(model, ctx.part), "after inserting DWCs and FIFOs")
    _account_for_converters(model, ctx)
    return model


def _account_for_converters(model: ModelWrapper, ctx: StepContext) -> None:
    """Make ``RUN/estimates.json``'s bottleneck the slowest node including the DWCs.

    The estimates are taken before the converters exist; finn-plus's RTL converter is not
    always full rate (:mod:`codesign.finn.dwc_rtl`), so one may be the real bottleneck.
    """
    if not ctx.estimates_path.is_file():
        return
    slow = [
        (int(getCustomOp(n).get_exp_cycles()), n.name)
        for n in model.graph.node
        if n.op_type.startswith("StreamingDataWidthConverter")
    ]
    est = Estimates.from_dict(json.loads(ctx.estimates_path.read_text()))
    cycles, name = max(slow, default=(0, ""))
    if cycles <= est.max_cycles:
        return
    fps = 1e9 / ctx.clock_ns / cycles
    log.warning(
        "data-width converter %s needs %d cycles per frame, more than the folding's "
        "bottleneck %s (%d): the design runs at %.1f FPS, not %.1f",
        name,
        cycles,
        est.bottleneck,
        est.max_cycles,
        fps,
        est.fps,
    )
    dwc = LayerEstimate(
        name=name,
        op_type="StreamingDataWidthConverter_rtl",
        pe=None,
        simd=None,
        resources=Resources(),
        cycles=cycles,
    )
    note = (
        f"{name} (a data-width converter) is the bottleneck: its cycles are finn-rtllib vpc's "
        "throughput (codesign.finn.dwc_rtl); converters' and FIFOs' resources are not counted"
    )
    est = replace(
        est,
        layers=(*est.layers, dwc),
        bottleneck=name,
        max_cycles=cycles,
        fps=fps,
        notes=(*est.notes, note),
    )
    atomic_write_json(ctx.estimates_path, est.to_dict())


def step_prepare_ip(model: ModelWrapper, ctx: StepContext) -> ModelWrapper:
    """Fill the RTL templates of every node into ``RUN/finn_build`` (PrepareIP)."""
    if not ctx.cfg.prepare_ip:
        log.info("prepare_ip is off: no RTL generated")
        return model
    model = model.transform(GiveUniqueNodeNamesRecursive())
    return model.transform(PrepareIP(ctx.part, ctx.clock_ns))


#: The compile flow, in order. Names are the keys for start/stop step.
STEPS: tuple[tuple[str, Step], ...] = (
    ("qonnx_to_finn", step_qonnx_to_finn),
    ("tidy_up", step_tidy_up),
    ("streamline", step_streamline),
    ("convert_to_hw", step_convert_to_hw),
    ("minimize_bit_width_initial", step_minimize_bit_width_initial),
    ("check_supported", step_check_supported),
    ("create_dataflow_partition", step_create_dataflow_partition),
    ("specialize_layers", step_specialize_layers),
    ("set_folding", step_set_folding),
    ("minimize_bit_width", step_minimize_bit_width),
    ("estimates", step_estimates),
    ("insert_dwc_fifo", step_insert_dwc_fifo),
    ("prepare_ip", step_prepare_ip),
)

STEP_NAMES: tuple[str, ...] = tuple(name for name, _ in STEPS)


def intermediate_name(index: int, name: str) -> str:
    """File name of the model saved after step ``index`` (1-based): ``NN_<name>.onnx``."""
    return f"{index:02d}_{name}.onnx"
