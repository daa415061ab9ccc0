"""Synthesis results, and FINN's estimates next to them."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rich.table import Table

from codesign.resources import Resources

#: The whole-design result's name (per-layer results carry their node's name).
WHOLE = "design"
_COLUMNS = ("lut", "ff", "bram18", "dsp")


def resources_diff(a: Resources, b: Resources) -> Resources:
    """``a - b`` field by field (counts may go negative)."""
    return Resources(**{f.name: getattr(a, f.name) - getattr(b, f.name) for f in fields(a)})


@dataclass(frozen=True)
class SynthResult:
    """One Yosys measurement, with what it was measured with.

    Attributes:
        name: The node name, or ``design`` for the whole chain.
        nodes: The nodes it covers.
        resources: LUT/FF/BRAM18/URAM/DSP (+ LUTRAM, SRL) from ``stat -json``.
        cells: Raw Xilinx cell counts.
        seconds: Yosys wall time of the run that produced it (not of a cache hit).
        cached: True when this call took it from the cache.
        design_digest: The plan's digest (all staged sources and the script).
        tool: ``yosys``.
        version: Yosys's version line.
        family: synth_xilinx family.
        part: The FPGA part of the run folder.
        clock_ns: The run's clock period (Yosys does not use it; recorded for calibration).
        log: Where the Yosys log of this result was kept.
    """

    name: str
    nodes: tuple[str, ...]
    resources: Resources
    cells: dict[str, int]
    seconds: float
    cached: bool
    design_digest: str
    tool: str
    version: str
    family: str
    part: str
    clock_ns: float
    log: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``RUN/synth/*.json``)."""
        return {
            "name": self.name,
            "nodes": list(self.nodes),
            "resources": self.resources.to_dict(),
            "cells": self.cells,
            "seconds": round(self.seconds, 3),
            "cached": self.cached,
            "design_digest": self.design_digest,
            "tool": self.tool,
            "version": self.version,
            "family": self.family,
            "part": self.part,
            "clock_ns": self.clock_ns,
            "log": self.log,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SynthResult:
        """Rebuild from :meth:`to_dict`'s output."""
        return cls(
            name=data["name"],
            nodes=tuple(data["nodes"]),
            resources=Resources(**data["resources"]),
            cells=dict(data["cells"]),
            seconds=float(data["seconds"]),
            cached=bool(data["cached"]),
            design_digest=data["design_digest"],
            tool=data["tool"],
            version=data["version"],
            family=data["family"],
            part=data["part"],
            clock_ns=float(data["clock_ns"]),
            log=data.get("log", ""),
        )


@dataclass(frozen=True)
class SynthReport:
    """Per-layer and whole-design Yosys results of one run folder, with FINN's estimates.

    Attributes:
        run_dir: The compile run folder.
        layers: Per-node results, in graph order (empty without per-layer synthesis).
        whole: The whole chain's result (None without whole-design synthesis).
        estimates: FINN's per-node estimate, for the nodes ``RUN/estimates.json`` lists
            (FIFOs and width converters are inserted after estimation and have none).
        op_types: Node name -> op type.
    """

    run_dir: Path
    layers: tuple[SynthResult, ...]
    whole: SynthResult | None
    estimates: dict[str, Resources] = field(default_factory=dict)
    op_types: dict[str, str] = field(default_factory=dict)

    @property
    def layer_total(self) -> Resources:
        """Sum of the per-layer measurements."""
        total = Resources()
        for r in self.layers:
            total = total + r.resources
        return total

    @property
    def estimate_total(self) -> Resources:
        """Sum of FINN's estimates over the synthesized layers that have one."""
        total = Resources()
        for r in self.layers:
            total = total + self.estimates.get(r.name, Resources())
        return total

    @property
    def stitching_overhead(self) -> Resources | None:
        """Whole design minus the sum of its layers (None unless both were synthesized).

        Per-layer tops expose each node's streams as ports, so logic that only becomes
        constant or unobservable across node boundaries is removed in the whole design
        and not per layer: the overhead can be negative.
        """
        if self.whole is None or not self.layers:
            return None
        return resources_diff(self.whole.resources, self.layer_total)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``RUN/synth/report.json``)."""
        overhead = self.stitching_overhead
        return {
            "run_dir": str(self.run_dir),
            "layers": [r.to_dict() for r in self.layers],
            "whole": self.whole.to_dict() if self.whole else None,
            "layer_total": self.layer_total.to_dict(),
            "stitching_overhead": overhead.to_dict() if overhead else None,
            "finn_estimates": {k: v.to_dict() for k, v in self.estimates.items()},
            "op_types": self.op_types,
        }

    def table(self) -> Table:
        """A rich table: FINN estimate vs Yosys per layer, totals and stitching overhead.

        FINN has no FF model, so FF shows Yosys only; nodes inserted after estimation
        (FIFOs, width converters) have no FINN figures ("-").
        """
        table = Table(title=f"FINN estimate vs Yosys ({self._family()}) - {self.run_dir.name}")
        table.add_column("layer", no_wrap=True)
        for col in ("LUT", "FF", "BRAM18", "DSP"):
            if col != "FF":
                table.add_column(f"{col}\nFINN", justify="right", style="dim")
            table.add_column(f"{col}\nYosys", justify="right")
        table.add_column("Yosys\ns", justify="right")
        for r in self.layers:
            est = self.estimates.get(r.name)
            table.add_row(r.name, *_pair_cells(est, r.resources), _seconds(r))
        if self.layers:
            table.add_section()
            table.add_row(
                "sum of layers",
                *_pair_cells(self.estimate_total, self.layer_total),
                f"{sum(r.seconds for r in self.layers):.1f}",
            )
        if self.whole is not None:
            table.add_row(
                f"whole ({len(self.whole.nodes)} nodes)",
                *_pair_cells(None, self.whole.resources),
                _seconds(self.whole),
            )
        overhead = self.stitching_overhead
        if overhead is not None:
            table.add_row("overhead (whole-sum)", *_pair_cells(None, overhead, signed=True), "")
        return table

    def _family(self) -> str:
        first = self.whole or (self.layers[0] if self.layers else None)
        return f"{first.family}, {first.part}" if first else "no results"


def _fmt(value: float, signed: bool = False) -> str:
    text = f"{value:+g}" if signed else f"{value:g}"
    return text


def _pair_cells(est: Resources | None, got: Resources, signed: bool = False) -> list[str]:
    out = []
    for col in _COLUMNS:
        if col != "ff":  # FINN has no FF model
            out.append("-" if est is None else _fmt(getattr(est, col)))
        out.append(_fmt(getattr(got, col), signed))
    return out


def _seconds(r: SynthResult) -> str:
    return "cached" if r.cached else f"{r.seconds:.1f}"
