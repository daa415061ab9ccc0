"""Per-layer FINN estimates of a folded dataflow model (``RUN/estimates.json``).

The types live in :mod:`codesign.runfolder` (the run folder's reader); this module fills
them from a FINN model.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from finn.analysis.fpgadataflow.exp_cycles_per_layer import exp_cycles_per_layer
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from codesign.finn.estimate_fixes import res_estimation
from codesign.finn.folding import to_resources
from codesign.resources import Resources
from codesign.runfolder import RTL_LUT_NOTE, Estimates, LayerEstimate

__all__ = ["RTL_LUT_NOTE", "Estimates", "LayerEstimate", "estimate"]


def estimate(model: ModelWrapper, part: str, clock_ns: float) -> Estimates:
    """Collect FINN's per-node resource and cycle estimates of a folded dataflow model.

    Args:
        model: A specialized, folded dataflow partition.
        part: FPGA part.
        clock_ns: Clock period in ns.
    """
    cycles = model.analysis(exp_cycles_per_layer)
    res = model.analysis(partial(res_estimation, fpgapart=part))
    layers = []
    for node in model.graph.node:
        inst = getCustomOp(node)
        layers.append(
            LayerEstimate(
                name=node.name,
                op_type=node.op_type,
                pe=_attr(inst, "PE"),
                simd=_attr(inst, "SIMD"),
                resources=to_resources(res.get(node.name, {})),
                cycles=int(cycles.get(node.name, 0)),
                mw=_attr(inst, "MW"),
                mh=_attr(inst, "MH"),
                weight_bits=_bits(inst, "weightDataType") if _is_mvu(node.op_type) else None,
                in_bits=_bits(inst, "inputDataType"),
                out_bits=_bits(inst, "outputDataType"),
                impl=_impl(node.op_type, inst),
            )
        )
    slowest = max(layers, key=lambda x: x.cycles)
    total = Resources()
    for layer in layers:
        total = total + layer.resources
    fps = 1e9 / clock_ns / slowest.cycles if slowest.cycles else float("inf")
    return Estimates(
        part=part,
        clock_ns=clock_ns,
        layers=tuple(layers),
        bottleneck=slowest.name,
        max_cycles=slowest.cycles,
        fps=fps,
        total=total,
    )


def _bits(inst: Any, name: str) -> int | None:  # noqa: ANN401 - a FINN HWCustomOp
    from qonnx.core.datatype import DataType  # noqa: PLC0415

    if name not in inst.get_nodeattr_types():
        return None
    value = inst.get_nodeattr(name)
    return int(DataType[value].bitwidth()) if value else None


def _is_mvu(op_type: str) -> bool:
    return op_type.startswith(("MVAU", "VVAU"))


def _impl(op_type: str, inst: Any) -> str | None:  # noqa: ANN401 - a FINN HWCustomOp
    """``dsp`` or ``lut`` for a matrix-vector unit (finn-plus's RTL MVU/VVU use DSPs)."""
    if not _is_mvu(op_type):
        return None
    res_type = inst.get_nodeattr("resType") if "resType" in inst.get_nodeattr_types() else None
    if op_type == "MVAU_rtl":  # codesign's LUT MVU is MVAU_rtl with resType "lut"
        return "lut" if res_type == "lut" else "dsp"
    if op_type.endswith("_rtl"):
        return "dsp"
    return "dsp" if res_type == "dsp" else "lut"


def _attr(inst: Any, name: str) -> int | None:  # noqa: ANN401 - a FINN HWCustomOp
    if name not in inst.get_nodeattr_types():
        return None
    return int(inst.get_nodeattr(name))
