"""Per-layer FINN estimates of a folded dataflow model (``RUN/estimates.json``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from finn.analysis.fpgadataflow.exp_cycles_per_layer import exp_cycles_per_layer
from finn.analysis.fpgadataflow.res_estimation import res_estimation
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from codesign.finn.folding import to_resources
from codesign.resources import Resources

#: Shown under the table and stored in the JSON: a known gap in FINN's analytic model.
RTL_LUT_NOTE = (
    "FINN estimates RTL MVAU/VVAU LUTs as 0 (real counts are 200-20k per layer "
    "by Yosys); LUT totals are lower bounds."
)


@dataclass(frozen=True)
class LayerEstimate:
    """FINN's estimate for one dataflow node.

    Attributes:
        name: Node name.
        op_type: Op type, e.g. ``MVAU_rtl``.
        pe: PE (output parallelism), None where the node has none.
        simd: SIMD (input parallelism), None where the node has none.
        resources: FINN's LUT/BRAM18/URAM/DSP estimate.
        cycles: Expected cycles per frame.
        impl: ``"dsp"`` or ``"lut"`` for an MVAU (its multipliers), None for other nodes.
    """

    name: str
    op_type: str
    pe: int | None
    simd: int | None
    resources: Resources
    cycles: int
    impl: str | None = None

    def to_dict(self) -> dict[str, Any]:  # noqa: D102
        return {
            "name": self.name,
            "op_type": self.op_type,
            "pe": self.pe,
            "simd": self.simd,
            "resources": self.resources.to_dict(),
            "cycles": self.cycles,
            "impl": self.impl,
        }


@dataclass(frozen=True)
class Estimates:
    """Per-layer estimates, the bottleneck and the throughput at the board clock.

    Attributes:
        part: FPGA part the estimates are for.
        clock_ns: Clock period in ns.
        layers: One entry per dataflow node, in graph order.
        bottleneck: Name of the node with the most cycles per frame.
        max_cycles: Its cycles per frame.
        fps: ``f_clk / max_cycles``.
        total: Sum of the per-layer resources.
        notes: Caveats of the estimate.
    """

    part: str
    clock_ns: float
    layers: tuple[LayerEstimate, ...]
    bottleneck: str
    max_cycles: int
    fps: float
    total: Resources
    notes: tuple[str, ...] = field(default=(RTL_LUT_NOTE,))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to ``RUN/estimates.json``."""
        return {
            "part": self.part,
            "clock_ns": self.clock_ns,
            "bottleneck": self.bottleneck,
            "max_cycles": self.max_cycles,
            "fps": self.fps,
            "total": self.total.to_dict(),
            "notes": list(self.notes),
            "layers": [x.to_dict() for x in self.layers],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Estimates:
        """Rebuild from :meth:`to_dict`'s output."""
        layers = tuple(
            LayerEstimate(
                name=x["name"],
                op_type=x["op_type"],
                pe=x["pe"],
                simd=x["simd"],
                resources=Resources(**x["resources"]),
                cycles=x["cycles"],
                impl=x.get("impl"),
            )
            for x in data["layers"]
        )
        return cls(
            part=data["part"],
            clock_ns=data["clock_ns"],
            layers=layers,
            bottleneck=data["bottleneck"],
            max_cycles=data["max_cycles"],
            fps=data["fps"],
            total=Resources(**data["total"]),
            notes=tuple(data.get("notes", ())),
        )


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
                impl=_impl(inst, node.op_type),
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


def _attr(inst: Any, name: str) -> int | None:  # noqa: ANN401 - a FINN HWCustomOp
    if name not in inst.get_nodeattr_types():
        return None
    return int(inst.get_nodeattr(name))


def _impl(inst: object, op_type: str) -> str | None:
    """``"lut"``/``"dsp"`` for an RTL MVAU (``resType``; ``auto`` means DSP there)."""
    if op_type != "MVAU_rtl":
        return None
    return "lut" if inst.get_nodeattr("resType") == "lut" else "dsp"  # type: ignore[attr-defined]
