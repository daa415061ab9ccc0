"""The typed compile configuration (``RUN/config.yaml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from codesign.errors import ConfigError
from codesign.models.bits import ImplChoice  # dsp | lut | auto, see docs/lowbit.md


class CompileConfig(BaseModel):
    """What to compile for, and how hard to fold.

    Exactly one of ``fps`` and ``lut_budget`` is given: ``fps`` folds every layer to
    ``f_clk / fps`` cycles per frame; ``lut_budget`` picks the fastest folding whose FINN
    LUT estimate fits the budget. ``part`` and ``clock_ns`` default to the board's; the
    resolved config (both filled in) is what a run folder records.

    Attributes:
        board: Board name (``codesign/boards/<name>.yaml``), e.g. ``pynq-z2``.
        fps: Target frames per second at the board clock.
        lut_budget: LUT budget for the whole dataflow graph (FINN estimates).
        part: FPGA part; None means the board's.
        clock_ns: Clock period in ns; None means the board's.
        bits: The bit-width policy the model was built with (a YAML path or a uniform spec
            such as ``4`` or ``w4a4``), recorded for provenance when compiling a checkpoint.
        mvau_wwidth_max: SetFolding's cap on the weight bits per PE and cycle (SIMD x W).
        max_multithreshold_bit_width: Activation Quant nodes wider than this stay Quant.
        prepare_ip: Generate the RTL (PrepareIP). False stops after the FIFOs are inserted,
            which is enough for estimates and golden checks.
        impl: MVAU implementation for every layer the per-layer list leaves open
            (``dsp``, the default, is finn-plus's DSP kernel as before).
        layer_impl: Per-MVAU choice in graph order (the bit config's ``impl`` per layer);
            ``None`` entries, or a missing list, use ``impl``.
        utilization: Fraction of the board's resources the design may use (the capacity
            the folding, and ``impl: auto``'s LUT budget, are checked against).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    board: str
    fps: float | None = Field(default=None, gt=0)
    lut_budget: int | None = Field(default=None, gt=0)
    part: str | None = None
    clock_ns: float | None = Field(default=None, gt=0)
    bits: str | None = None
    mvau_wwidth_max: int = Field(default=36, ge=1)
    max_multithreshold_bit_width: int = Field(default=8, ge=1, le=16)
    prepare_ip: bool = True
    impl: ImplChoice = ImplChoice.DSP  # type: ignore[valid-type]
    layer_impl: tuple[ImplChoice | None, ...] | None = None  # type: ignore[valid-type]
    utilization: float = Field(default=1.0, gt=0, le=1)

    def impl_of(self, index: int) -> ImplChoice:  # type: ignore[valid-type]
        """The implementation choice for the ``index``-th MVAU (graph order)."""
        if self.layer_impl is not None and index < len(self.layer_impl):
            choice = self.layer_impl[index]
            if choice is not None:
                return choice
        return self.impl

    @model_validator(mode="after")
    def _one_target(self) -> CompileConfig:
        if (self.fps is None) == (self.lut_budget is None):
            raise ValueError(
                "give exactly one of `fps` (a throughput target) and "
                "`lut_budget` (a LUT budget), e.g. `fps: 10000`"
            )
        return self

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "compile config") -> CompileConfig:
        """Validate ``data``, turning pydantic's errors into one :class:`ConfigError` line."""
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}"
                for e in err.errors()
            )
            raise ConfigError(f"{source}: {problems}") from None

    @classmethod
    def from_yaml(cls, path: Path) -> CompileConfig:
        """Load a config from a YAML file (unknown keys are rejected)."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"cannot read compile config {path}: {err}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of compile settings")
        return cls.from_dict(data, source=str(path))

    def to_yaml(self) -> str:
        """The config as YAML text (what ``RUN/config.yaml`` holds)."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)
