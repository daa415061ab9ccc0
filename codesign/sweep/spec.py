"""The typed sweep file (``SWEEP.yaml``): a base flow plus axes, sampling and execution.

Example::

    sweep:
      name: quickstart
      base: flows/sweep-base.yaml     # any flow file; relative to this file
      sampling: grid                  # grid | random
      budget: 12                      # at most this many points
    axes:
      bits:
        uniform: [{weight: 2, act: 2}, {weight: 4, act: 4}]
        generate: {layers: [conv1, conv2], choices: [2, 4, 8]}
      overrides: {train.lr: [0.002, 0.005]}   # any dotted flow key
      boards: [pynq-z2]
      fps: [5000, 10000]
      seeds: [0, 1]
    execution:
      timeouts: {synth: 900}          # seconds per step

Every point of the sweep is the base flow with one value of each axis applied; see
:mod:`codesign.sweep.expand`. Unknown keys are errors; any problem is one
:class:`~codesign.errors.ConfigError` line that starts with ``FILE:LINE:``.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from codesign.errors import ConfigError
from codesign.flow.config import yaml_key_lines

log = logging.getLogger(__name__)

DEFAULT_STEP_TIMEOUT_S = 3600.0
"""Seconds a step may run when ``execution.timeouts`` does not name it."""


class Sampling(StrEnum):
    """How points are drawn from the product of the axes."""

    GRID = "grid"
    RANDOM = "random"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UniformBits(_Model):
    """One uniform precision: every layer at ``weight`` bits, every activation at ``act``."""

    weight: int = Field(ge=1, le=16)
    act: int = Field(ge=1, le=16)
    input: int | None = Field(default=None, ge=1, le=16)


class BitsGenerator(_Model):
    """All per-layer choices for the named layers; the other layers keep the base's bits.

    Attributes:
        layers: Layer names (``conv0``.. and ``fc``).
        choices: Bit-widths to try in each named layer.
        separate_act: Choose weight and activation bits independently (``choices`` squared
            per layer); by default a layer's activation takes its weight's bit-width.
    """

    layers: list[str] = Field(min_length=1)
    choices: list[int] = Field(min_length=1)
    separate_act: bool = False


class BitsAxis(_Model):
    """Bit configurations: uniform ones, explicit per-layer ones, generated ones, DQMQ tiers.

    Attributes:
        uniform: Uniform ``{weight, act}`` (optionally ``input``) bit-widths; each point
            trains its own model.
        per_layer: ``BitConfig`` mappings; each point trains its own model.
        generate: Every per-layer choice for the named layers.
        tiers: DQMQ run folders (relative to the sweep file): each tier in their
            ``dqmq/tiers.json`` is a point that freezes the trained switchable network at
            that tier (step ``freeze_tier`` in place of ``train``) instead of training.
    """

    uniform: list[UniformBits] = Field(default_factory=list)
    per_layer: list[dict[str, Any]] = Field(default_factory=list)
    generate: BitsGenerator | None = None
    tiers: list[Path] = Field(default_factory=list)


class Axes(_Model):
    """The axes; the points are (a sample of) their product. Empty axes are left out.

    Attributes:
        bits: Bit configurations.
        overrides: Dotted flow keys -> values, each key one axis (``dqmq.lambda``,
            ``tiers.count``, ``train.lr``...): plain config overrides.
        flows: Flow files that replace the base (candidates emitted by the search); the
            other axes apply on top of each.
        boards: Board names (``compile.board``).
        fps: FPS targets (``compile.fps``); one axis together with ``lut_budgets``.
        lut_budgets: LUT budgets (``compile.lut_budget``).
        seeds: ``run.seed`` values.
    """

    bits: BitsAxis | None = None
    overrides: dict[str, list[Any]] = Field(default_factory=dict)
    flows: list[Path] = Field(default_factory=list)
    boards: list[str] = Field(default_factory=list)
    fps: list[float] = Field(default_factory=list)
    lut_budgets: list[int] = Field(default_factory=list)
    seeds: list[int] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Self:
        for key, values in self.overrides.items():
            if not values:
                raise ValueError(f"axes.overrides.{key} is empty; give at least one value")
            if "." not in key:
                raise ValueError(
                    f"axes.overrides key {key!r} is not dotted; write SECTION.KEY (train.lr)"
                )
        if any(v <= 0 for v in self.fps) or any(v <= 0 for v in self.lut_budgets):
            raise ValueError("axes.fps and axes.lut_budgets take positive numbers")
        if any(s < 0 for s in self.seeds):
            raise ValueError("axes.seeds take seeds >= 0")
        return self


class Execution(_Model):
    """How points run.

    Attributes:
        jobs: Points at once in the local pool; ``null`` sizes it to the cores and memory
            (:func:`codesign.sweep.runner.default_jobs`).
        memory_per_point_gb: Memory one point may take at its peak (Verilator's g++, Yosys),
            used to size the pool.
        timeouts: Step name -> seconds; a step over its limit fails the point.
        default_timeout_s: Limit for steps not in ``timeouts``.
    """

    jobs: int | None = Field(default=None, ge=1)
    memory_per_point_gb: float = Field(default=2.0, gt=0)
    timeouts: dict[str, float] = Field(default_factory=dict)
    default_timeout_s: float = Field(default=DEFAULT_STEP_TIMEOUT_S, gt=0)

    @model_validator(mode="after")
    def _check(self) -> Self:
        from codesign.flow.steps import STEPS  # noqa: PLC0415 (imports the flow steps)

        for name, seconds in self.timeouts.items():
            if name not in STEPS:
                raise ValueError(
                    f"execution.timeouts names unknown step {name!r}; known: {', '.join(STEPS)}"
                )
            if seconds <= 0:
                raise ValueError(f"execution.timeouts.{name} must be > 0 seconds")
        return self

    def timeout(self, step: str) -> float:
        """Seconds step ``step`` may run."""
        return self.timeouts.get(step, self.default_timeout_s)


class SweepHeader(_Model):
    """The ``sweep:`` section.

    Attributes:
        name: Sweep name; the default sweep folder is ``sweeps/<name>``.
        base: The base flow file (relative to the sweep file).
        sampling: ``grid`` (every combination) or ``random`` (``budget`` of them).
        budget: At most this many points; required for ``random``.
        seed: Seeds the random sample.
        out_dir: Sweep folder (relative to the sweep file); default ``sweeps/<name>``.
        db: SQLAlchemy URL of the results database; ``null``: ``SWEEP_DIR/results.db``.
        set: Dotted flow keys -> one value, applied to every point before the axes (a tiny
            training budget for a quick sweep, say).
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    base: Path
    sampling: Sampling = Sampling.GRID
    budget: int | None = Field(default=None, ge=1)
    seed: int = Field(default=0, ge=0)
    out_dir: Path | None = None
    db: str | None = None
    set: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Self:
        bad = [k for k in self.set if "." not in k]
        if bad:
            raise ValueError(f"sweep.set key {bad[0]!r} is not dotted; write SECTION.KEY")
        if self.sampling is Sampling.RANDOM and self.budget is None:
            raise ValueError("sweep.sampling is random but sweep.budget is not set; set it")
        return self


class SweepSpec(_Model):
    """A whole sweep file."""

    sweep: SweepHeader
    axes: Axes = Field(default_factory=Axes)
    execution: Execution = Field(default_factory=Execution)

    def resolved_out_dir(self) -> Path:
        """The sweep folder: ``sweep.out_dir`` or ``sweeps/<name>`` under the working folder."""
        out = self.sweep.out_dir if self.sweep.out_dir is not None else Path("sweeps")
        return (out if self.sweep.out_dir is not None else out / self.sweep.name).resolve()


def load_sweep_spec(path: Path) -> SweepSpec:
    """Load and check a sweep file; relative paths are resolved against its folder.

    Raises:
        ConfigError: Missing file, malformed YAML, unknown key or bad value, in one line.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"cannot read sweep file {path}: {err.strerror}") from None
    try:
        raw = yaml.safe_load(text)
        lines = yaml_key_lines(yaml.compose(text))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: malformed YAML: {getattr(err, 'problem', err)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}:1: a sweep file is a mapping with sweep:, axes:, execution:")
    base = path.resolve().parent
    head = raw.get("sweep")
    if isinstance(head, dict):
        for key in ("base", "out_dir"):
            if isinstance(head.get(key), str):
                head[key] = str(_resolve(head[key], base))
    axes = raw.get("axes")
    if isinstance(axes, dict) and isinstance(axes.get("flows"), list):
        axes["flows"] = [str(_resolve(f, base)) if isinstance(f, str) else f for f in axes["flows"]]
    bits = axes.get("bits") if isinstance(axes, dict) else None
    if isinstance(bits, dict) and isinstance(bits.get("tiers"), list):
        bits["tiers"] = [str(_resolve(f, base)) if isinstance(f, str) else f for f in bits["tiers"]]
    try:
        spec = SweepSpec.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_format(err, path, lines)) from None
    if not spec.sweep.base.exists():
        raise ConfigError(f"{path}: sweep.base {spec.sweep.base} does not exist")
    return spec


def _resolve(value: str, base: Path) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def _format(err: ValidationError, path: Path, lines: dict[tuple[str, ...], int]) -> str:
    e = err.errors()[0]
    loc = tuple(str(p) for p in e["loc"])
    line = next((lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in lines), None)
    where = f"{path}:{line}" if line is not None else str(path)
    dotted = ".".join(loc) or "sweep file"
    if e["type"] == "extra_forbidden":
        return f"{where}: unknown key {dotted!r}"
    msg = e["msg"].removeprefix("Value error, ")
    more = f" (and {len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    return f"{where}: {dotted}: {msg}{more}"
