"""``impl: auto`` under the board's LUT budget: move LUT MVUs to DSPs until the design fits.

``auto`` first chooses per layer from the operand widths (:class:`~codesign.finn.transforms.
SelectMvauImpl`, before folding). Only the folding tells what the LUT MVUs cost, so after
specialization, and before the FPS folding is checked against the board,
:func:`fit_auto_impl_to_luts` prices the folded design; when its LUTs exceed the capacity
(board x ``utilization``) it moves ``auto`` layers that the DSP kernel can take to DSPs,
best trade first (most LUTs saved per DSP added), until the LUTs fit. Layers chosen
explicitly (``lut``/``dsp``) never move.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from codesign.errors import InfeasibleError
from codesign.finn.folding import FoldTarget, ResourceEstimator, fold

log = logging.getLogger(__name__)


def _set_impl(model: ModelWrapper, index: int, impl: str) -> None:
    getCustomOp(model.get_nodes_by_op_type("MVAU_rtl")[index]).set_nodeattr("resType", impl)


def fit_auto_impl_to_luts(
    model: ModelWrapper,
    auto: Collection[int],
    target: FoldTarget,
    target_cycles: int,
    estimate: ResourceEstimator,
) -> list[str]:
    """Move ``auto`` LUT MVUs of ``model`` to DSPs until its folded LUT estimate fits.

    Args:
        model: The specialized, unfolded dataflow model; changed in place (``resType``).
        auto: Indices (graph order among ``MVAU_rtl`` nodes) of the layers chosen by ``auto``.
        target: Part, clock and capacity (board x utilization).
        target_cycles: The folding target (cycles per frame).
        estimate: Prices a folded model.

    Returns:
        The names of the MVAUs moved to DSPs (empty when the LUT MVUs fit).

    Raises:
        InfeasibleError: The LUTs exceed the capacity even with every movable layer on DSPs,
            or the moves would exceed the DSPs; the message names the fix.
    """
    from finn.transformation.fpgadataflow.specialize_layers import _mvu_rtl_possible

    nodes = model.get_nodes_by_op_type("MVAU_rtl")
    movable = [
        i
        for i in sorted(auto)
        if i < len(nodes)
        and getCustomOp(nodes[i]).get_nodeattr("resType") == "lut"
        and _mvu_rtl_possible(nodes[i], target.part, model)
    ]
    limit = target.capacity
    used = estimate(fold(model, target_cycles, target.mvau_wwidth_max), target.part)
    if used.lut <= limit.lut or not movable:
        return []
    # price each move alone at this folding: LUTs saved per DSP added
    trades = []
    for i in movable:
        _set_impl(model, i, "dsp")
        moved = estimate(fold(model, target_cycles, target.mvau_wwidth_max), target.part)
        _set_impl(model, i, "lut")
        saved, added = used.lut - moved.lut, max(moved.dsp - used.dsp, 1.0)
        trades.append((saved / added, i))
    trades.sort(reverse=True)
    moved_names: list[str] = []
    for _, i in trades:
        _set_impl(model, i, "dsp")
        moved_names.append(nodes[i].name)
        used = estimate(fold(model, target_cycles, target.mvau_wwidth_max), target.part)
        log.info(
            "impl auto: %s moved to DSP for the LUT budget (now %.0f LUT, %.0f DSP)",
            nodes[i].name,
            used.lut,
            used.dsp,
        )
        if used.lut <= limit.lut:
            break
    if used.lut > limit.lut or used.dsp > limit.dsp:
        raise InfeasibleError(
            f"impl auto: the design needs {used.lut:.0f} LUT and {used.dsp:.0f} DSP with "
            f"{len(moved_names)} of its LUT MVUs moved to DSPs, over the capacity of "
            f"{target.part} ({limit.lut:.0f} LUT, {limit.dsp:.0f} DSP): lower the FPS, "
            "raise the utilization or choose a larger board"
        )
    return moved_names
