"""FINN's per-node resource estimates, corrected where finn-plus 1.6.1 miscounts.

One correction today: ``Thresholding_rtl`` with *per-tensor* thresholds (a one-row
threshold tensor, e.g. an input quantizer placed after ``nn.Flatten``). finn-plus's RTL
code generation stores such thresholds once per PE (``prepare_codegen_rtl_values`` sets
``C = PE`` when the threshold tensor has one row), but its memory estimate
(``get_pe_mem_geometries``) still counts ``NumChannels / PE`` copies per PE. For a
784-channel flattened image with 255 thresholds that is 784x the real memory: about
100k LUTRAM LUTs instead of ~130. The corrected figure is FINN's own estimate of the node
with ``NumChannels = PE``, i.e. of the RTL that is actually generated.
"""

from __future__ import annotations

import copy
from typing import Any

from finn.analysis.fpgadataflow.res_estimation import res_estimation as finn_res_estimation
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp


def has_per_tensor_thresholds(model: ModelWrapper, node: Any) -> bool:  # noqa: ANN401
    """True for a Thresholding node whose threshold tensor has a single row."""
    if not node.op_type.startswith("Thresholding") or len(node.input) < 2:
        return False
    shape = model.get_tensor_shape(node.input[1])
    return shape is not None and len(shape) == 2 and shape[0] == 1


def node_res_estimation(model: ModelWrapper, node: Any, fpgapart: str) -> dict[str, float]:  # noqa: ANN401
    """FINN's resource estimate of one node, corrected for per-tensor thresholds."""
    if has_per_tensor_thresholds(model, node):
        shadow = copy.deepcopy(node)
        inst = getCustomOp(shadow)
        inst.set_nodeattr("NumChannels", int(inst.get_nodeattr("PE")))
        return inst.node_res_estimation(fpgapart)
    return getCustomOp(node).node_res_estimation(fpgapart)


def res_estimation(model: ModelWrapper, fpgapart: str) -> dict[str, dict[str, float]]:
    """Drop-in for ``finn.analysis.fpgadataflow.res_estimation`` with the corrections above."""
    res = finn_res_estimation(model, fpgapart=fpgapart)
    for node in model.graph.node:
        if node.name in res and has_per_tensor_thresholds(model, node):
            res[node.name] = node_res_estimation(model, node, fpgapart)
    return res
