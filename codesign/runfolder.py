"""One typed reader for a compile run folder: config, estimates, FIFO depths, measurements.

A compile run folder (``codesign compile``; ``RUN/compile/`` inside a flow run) is the
contract between compile, measure and build (layout in docs/ARCHITECTURE.md). Simulation,
synthesis, the build and the flow report read it through :class:`RunFolder` only, so that
each figure has one meaning: the clock is the one the design was compiled for (a missing
clock is an error, never a silent default), resources are full :class:`Resources`, and
measurements carry their provenance.

This module reads files; it imports neither FINN nor the tools (tool versions come from the
results the tools left, or are asked for at call time by :func:`provenance`).

Example::

    run = RunFolder(Path("runs/c1"))
    run.clock_ns, run.board                 # 10.0, 'pynq-z2'
    run.estimates().bottleneck              # 'MVAU_rtl_1'
    run.sim().fps, run.synth().resources.lut
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from codesign.errors import CodesignError, ConfigError
from codesign.resources import Resources

log = logging.getLogger(__name__)

CONFIG_FILE = "config.yaml"
COMPILED_MODEL = "compiled.onnx"
PARENT_MODEL = "parent.onnx"
ESTIMATES_FILE = "estimates.json"
FINN_BUILD_DIR = "finn_build"
SIZED_MODEL = "sized.onnx"
"""The design with the FIFO depths sizing chose (``compiled.onnx`` stays as compile wrote it)."""
FOLDING_CONFIG = "folding_config.json"
"""Folding and FIFO depths of the sized design, in FINN's ``ApplyConfig`` format."""
FIFO_SIZING_FILE = "sim/fifo_sizing.json"
SIM_RESULT_FILE = "sim/result.json"
SYNTH_REPORT_FILE = "synth/report.json"

#: Shown under estimate tables and stored in the JSON: a known gap in FINN's analytic model.
RTL_LUT_NOTE = (
    "FINN estimates RTL MVAU/VVAU LUTs as 0 (real counts are 200-20k per layer "
    "by Yosys); LUT totals are lower bounds."
)


@dataclass(frozen=True)
class LayerEstimate:
    """FINN's estimate for one dataflow node, with its shape, folding and precisions.

    Attributes:
        name: Node name.
        op_type: Op type, e.g. ``MVAU_rtl``.
        pe: PE (output parallelism), None where the node has none.
        simd: SIMD (input parallelism), None where the node has none.
        resources: FINN's LUT/BRAM18/URAM/DSP estimate.
        cycles: Expected cycles per frame.
        mw: Matrix width (MVAU/VVAU), None elsewhere.
        mh: Matrix height (MVAU/VVAU), None elsewhere.
        weight_bits: Weight bit-width, None for nodes without weights.
        in_bits: Input stream element bit-width.
        out_bits: Output stream element bit-width.
        impl: ``dsp`` or ``lut`` for matrix-vector units, None elsewhere.
    """

    name: str
    op_type: str
    pe: int | None
    simd: int | None
    resources: Resources
    cycles: int
    mw: int | None = None
    mh: int | None = None
    weight_bits: int | None = None
    in_bits: int | None = None
    out_bits: int | None = None
    impl: str | None = None

    def to_dict(self) -> dict[str, Any]:  # noqa: D102
        data = asdict(self)
        data["resources"] = self.resources.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LayerEstimate:
        """Rebuild from :meth:`to_dict` (files written before the shape fields load too)."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        known["resources"] = Resources(**data["resources"])
        return cls(**known)


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
        return cls(
            part=data["part"],
            clock_ns=data["clock_ns"],
            layers=tuple(LayerEstimate.from_dict(x) for x in data["layers"]),
            bottleneck=data["bottleneck"],
            max_cycles=data["max_cycles"],
            fps=data["fps"],
            total=Resources(**data["total"]),
            notes=tuple(data.get("notes", ())),
        )

    def layer(self, name: str) -> LayerEstimate:
        """The estimate of node ``name``."""
        return next(x for x in self.layers if x.name == name)


@dataclass(frozen=True)
class SimMeasurement:
    """What Verilator measured on the design (``RUN/sim/result.json``).

    Attributes:
        frames: Frames simulated.
        bit_exact: Every output word matched FINN's execution.
        latency_cycles: Frame 0, first input word to last output word.
        interval_cycles: Steady-state cycles per frame.
        fps: Frames per second at ``clock_ns``.
        clock_ns: The clock the design was compiled for.
        bottleneck_node: FINN's slowest node.
        bottleneck_cycles: Its analytic cycles per frame.
        ready_pct: Output backpressure (percent of cycles the sink was ready).
        fifo_depths: FIFO node -> depth in the simulated design.
        digest: The Verilator build plan's digest (RTL, weights, harness).
    """

    frames: int
    bit_exact: bool
    latency_cycles: int
    interval_cycles: float
    fps: float
    clock_ns: float
    bottleneck_node: str
    bottleneck_cycles: int
    ready_pct: int
    fifo_depths: dict[str, int]
    digest: str

    @property
    def cycles_vs_analytic(self) -> float:
        """Measured interval / FINN's analytic bottleneck cycles."""
        return self.interval_cycles / self.bottleneck_cycles

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimMeasurement:
        """Read the fields of a ``SimResult.to_dict()``."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class SynthMeasurement:
    """One Yosys measurement of the run's design (``RUN/synth/report.json``).

    Attributes:
        name: ``design`` for the whole chain, else the node name.
        resources: LUT, FF, BRAM18, URAM, DSP, LUTRAM and SRL.
        tool: ``yosys``.
        version: Yosys's version line.
        family: ``synth_xilinx`` family.
        part: The FPGA part.
        clock_ns: The run's clock (Yosys does not use it).
        digest: The synthesis plan's digest (staged sources and script).
        seconds: Yosys wall time of the run that produced it.
        cached: Taken from the cache.
    """

    name: str
    resources: Resources
    tool: str
    version: str
    family: str
    part: str
    clock_ns: float
    digest: str
    seconds: float
    cached: bool

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SynthMeasurement:
        """Read a ``SynthResult.to_dict()``."""
        return cls(
            name=data["name"],
            resources=Resources(**data["resources"]),
            tool=data["tool"],
            version=data["version"],
            family=data["family"],
            part=data["part"],
            clock_ns=float(data["clock_ns"]),
            digest=data["design_digest"],
            seconds=float(data["seconds"]),
            cached=bool(data["cached"]),
        )


@dataclass(frozen=True)
class Provenance:
    """What produced a set of figures.

    Attributes:
        codesign: codesign's version.
        commit: The git commit of codesign's source tree, when it is a checkout.
        finn_plus: finn-plus's version.
        verilator: Verilator's version line (None without simulation).
        yosys: Yosys's version line (None without synthesis).
        board: The board the design was compiled for.
        digest: SHA-256 (16 hex digits) of the design model that was measured.
    """

    codesign: str
    commit: str | None
    finn_plus: str | None
    verilator: str | None
    yosys: str | None
    board: str
    digest: str

    def to_dict(self) -> dict[str, Any]:  # noqa: D102
        return asdict(self)


class RunFolder:
    """A compile run folder, read through typed accessors.

    Raises:
        ConfigError: The folder has no ``config.yaml`` (not a compile run folder), the
            config is unreadable, or it lacks the board, part or clock.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        config = self.path / CONFIG_FILE
        if not config.is_file():
            raise ConfigError(
                f"{config} not found: is {self.path} a compile run folder (`codesign compile`)?"
            )
        try:
            data = yaml.safe_load(config.read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"cannot read {config}: {err}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{config}: expected a mapping of compile settings")
        missing = [k for k in ("board", "part", "clock_ns") if not data.get(k)]
        if missing:
            raise ConfigError(
                f"{config} has no {', '.join(missing)}: it was not written by "
                f"`codesign compile`; compile the model again"
            )
        self.config: dict[str, Any] = data

    @property
    def board(self) -> str:
        """The board the design was compiled for."""
        return str(self.config["board"])

    @property
    def part(self) -> str:
        """The FPGA part the RTL was generated for."""
        return str(self.config["part"])

    @property
    def clock_ns(self) -> float:
        """The clock period the design was compiled for, in ns."""
        return float(self.config["clock_ns"])

    @property
    def compiled_model(self) -> Path:
        """``RUN/compiled.onnx``: the dataflow model as compile wrote it."""
        return self.path / COMPILED_MODEL

    @property
    def parent_model(self) -> Path:
        """``RUN/parent.onnx``: the host graph around the dataflow partition."""
        return self.path / PARENT_MODEL

    @property
    def sized_model(self) -> Path | None:
        """``RUN/sized.onnx`` when FIFO sizing has written it."""
        path = self.path / SIZED_MODEL
        return path if path.is_file() else None

    def design_model(self) -> Path:
        """The design to simulate, synthesize and build: the sized one if there is one.

        Raises:
            CodesignError: The folder has no compiled model.
        """
        path = self.sized_model or self.compiled_model
        if not path.is_file():
            raise CodesignError(
                f"{self.path} has no {COMPILED_MODEL}: run `codesign compile` first "
                f"(with RTL generation on)"
            )
        return path

    def estimates(self) -> Estimates | None:
        """FINN's estimates (``RUN/estimates.json``), or None without the file.

        Raises:
            CodesignError: The file is not an estimates file.
        """
        data = self._json(ESTIMATES_FILE)
        if data is None:
            return None
        try:
            return Estimates.from_dict(data)
        except (KeyError, TypeError, ValueError) as err:
            raise CodesignError(
                f"{self.path / ESTIMATES_FILE} is not a codesign estimates file ({err})"
            ) from err

    def fifo_depths(self, model: Path | None = None) -> dict[str, int]:
        """FIFO node -> depth in ``model`` (default: :meth:`design_model`)."""
        import onnx  # noqa: PLC0415 (reads the graph only, no external data)

        graph = onnx.load(str(model or self.design_model()), load_external_data=False).graph
        out: dict[str, int] = {}
        for node in graph.node:
            if node.op_type.startswith("StreamingFIFO"):
                attr = next((a for a in node.attribute if a.name == "depth"), None)
                if attr is not None:
                    out[node.name] = int(attr.i)
        return out

    def sim(self) -> SimMeasurement | None:
        """Verilator's measurement (``RUN/sim/result.json``), or None without one."""
        data = self._json(SIM_RESULT_FILE)
        return None if data is None else SimMeasurement.from_dict(data)

    def synth(self) -> SynthMeasurement | None:
        """Yosys's whole-design measurement (``RUN/synth/report.json``), or None."""
        data = self._json(SYNTH_REPORT_FILE)
        if data is None or not data.get("whole"):
            return None
        return SynthMeasurement.from_dict(data["whole"])

    def synth_layers(self) -> tuple[SynthMeasurement, ...]:
        """Yosys's per-node measurements (empty without per-layer synthesis)."""
        data = self._json(SYNTH_REPORT_FILE) or {}
        return tuple(SynthMeasurement.from_dict(x) for x in data.get("layers", ()))

    def digest(self, model: Path | None = None) -> str:
        """SHA-256 (16 hex digits) of ``model`` (default: :meth:`design_model`)."""
        return hashlib.sha256((model or self.design_model()).read_bytes()).hexdigest()[:16]

    def provenance(self, *, verilator: str | None = None) -> Provenance:
        """What the figures of this folder come from.

        Args:
            verilator: Verilator's version line, when the caller knows it (simulation
                results do not record it).
        """
        synth = self.synth()
        return Provenance(
            codesign=_version("codesign") or "unknown",
            commit=source_commit(),
            finn_plus=_version("finn-plus"),
            verilator=verilator,
            yosys=synth.version if synth is not None else None,
            board=self.board,
            digest=self.digest(),
        )

    def _json(self, rel: str) -> Any:  # noqa: ANN401 (JSON)
        path = self.path / rel
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise CodesignError(f"cannot read {path}: {err}") from err


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def source_commit() -> str | None:
    """The git commit of codesign's source tree, or None (an installed wheel, no git)."""
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return None
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None
