"""The typed flow config: one pydantic model, loaded from YAML, unknown keys rejected.

A flow file has one section per concern. Every section is a pydantic model with
``extra="forbid"``, so a misspelt key is an error that names the key and the keys allowed
there. Relative paths are resolved against the YAML file's folder. Cross-field rules live
in ``model_validator`` methods and say how to fix what they reject. Any problem becomes a
:class:`~codesign.errors.ConfigError` whose message starts with ``FILE:LINE:``.

Example::

    cfg = load_flow_config(Path("flows/quickstart.yaml"))
    cfg.train.epochs          # 1
    write_resolved_config(cfg, run_dir / "config.yaml")

Adding a section for a new step (as ``compile``, ``simulate`` and ``synth`` were added):

1. Write ``class CompileSection(Section)`` here with its fields and defaults (fixed choices
   as ``StrEnum``, file paths typed ``Path``: relative ones are resolved against the flow
   file), and add ``compile: CompileSection | None = None`` to :class:`FlowConfig`. ``None``
   keeps old flow files valid.
2. Write ``step_compile(state, cfg) -> state`` in :mod:`codesign.flow.steps` and register it
   in ``STEPS`` with ``sections=("compile",), after=("export",)``: a flow that lists the
   step without the section is rejected at load time, and the runner re-runs the step (and
   the steps that read from it) when the section or the export changes.
3. Append ``compile`` to ``run.steps`` in the flow files that should run it.
"""

from __future__ import annotations

import logging
import re
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from codesign.data.datasets import DatasetName
from codesign.errors import ConfigError
from codesign.io import atomic_write_text

if TYPE_CHECKING:
    from codesign.finn.config import CompileConfig
    from codesign.models.bits import BitConfig
    from codesign.models.cnn import CnnArch

log = logging.getLogger(__name__)

# Flows run these steps, in this order, unless ``run.steps`` says otherwise.
DEFAULT_STEPS: tuple[str, ...] = ("train", "evaluate", "export")
# compile.fps when neither fps nor lut_budget is given: the quickstart CNN reaches it on a
# Pynq-Z2 at 100 MHz with 14 DSPs (bottleneck 9408 cycles/frame, about 10.6k FPS).
DEFAULT_FPS = 10_000.0


class OptimizerName(StrEnum):
    """Optimizers the fixed-precision training loop knows."""

    ADAM = "adam"
    ADAMW = "adamw"
    SGD = "sgd"


class LrSchedule(StrEnum):
    """Learning-rate schedules over all training batches."""

    CONSTANT = "constant"
    COSINE = "cosine"


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are re-checked on set."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_enum_values=False)


class RunSection(Section):
    """Where a run goes and which steps it runs.

    Attributes:
        name: Run name; the default run folder is ``runs/<name>`` under the working folder.
        out_dir: Run folder; relative paths are resolved against the YAML file.
        seed: Seed for data subsets, weight init, data order and corruptions.
        steps: The flow's steps, in order (names from ``codesign.flow.steps.STEPS``).
        from_step: Re-run from this step (earlier steps must have completed outputs).
        to_step: Stop after this step.
        torch_threads: torch intra-op threads for training and evaluation; ``null`` keeps
            torch's default (one per core). 1 is fastest for these small CNNs and stays
            fast when other jobs share the cores.
    """

    name: str = Field(default="quickstart", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    out_dir: Path | None = None
    seed: int = Field(default=0, ge=0)
    steps: list[str] = Field(default_factory=lambda: list(DEFAULT_STEPS), min_length=1)
    from_step: str | None = None
    to_step: str | None = None
    torch_threads: int | None = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _check_steps(self) -> Self:
        from codesign.flow.runner import step_inputs  # noqa: PLC0415 (imports this module)
        from codesign.flow.steps import STEPS  # noqa: PLC0415

        unknown = [s for s in self.steps if s not in STEPS]
        if unknown:
            raise ValueError(
                f"unknown step {unknown[0]!r} in run.steps; known steps: {', '.join(STEPS)}"
            )
        if len(set(self.steps)) != len(self.steps):
            raise ValueError(f"run.steps lists a step twice: {self.steps}; list each once")
        try:
            step_inputs([STEPS[s] for s in self.steps])
            select_steps(self.steps, self.from_step, self.to_step)
        except ConfigError as err:
            raise ValueError(str(err)) from None  # pydantic adds the file line
        return self

    def resolved_out_dir(self) -> Path:
        """The run folder: ``out_dir`` if set, else ``runs/<name>`` under the working folder."""
        return self.out_dir if self.out_dir is not None else Path("runs") / self.name


class DataSection(Section):
    """Which data, how much of it, and in what batches.

    Attributes:
        dataset: Dataset name.
        n_train: Training images, a seeded random subset of the training split.
        n_test: Test images, a seeded random subset of the test split.
        batch_size: Training batch size.
    """

    dataset: DatasetName = DatasetName.FASHION_MNIST
    n_train: int = Field(default=20000, ge=1)
    n_test: int = Field(default=10000, ge=1)
    batch_size: int = Field(default=64, ge=1)

    @model_validator(mode="after")
    def _check_sizes(self) -> Self:
        if self.batch_size > self.n_train:
            raise ValueError(
                f"batch_size {self.batch_size} exceeds n_train {self.n_train}; "
                f"lower data.batch_size or raise data.n_train"
            )
        return self


class ModelSection(Section):
    """The network and its precisions.

    Attributes:
        arch: ``"quickstart"`` (``codesign.models.cnn.QUICKSTART_ARCH``) or a mapping of
            ``CnnArch`` fields.
        weight_bits: Uniform weight bits for every layer (ignored when ``bits`` is given).
        act_bits: Uniform activation bits for every layer (ignored when ``bits`` is given).
        input_bits: Bits of the input quantizer (for uniform precisions).
        bits: A per-layer ``BitConfig`` as a mapping (``BitConfig.to_dict()``); when given,
            leave ``weight_bits``/``act_bits``/``input_bits`` out of the file.
    """

    arch: str | dict[str, Any] = "quickstart"
    weight_bits: int = Field(default=4, ge=1, le=16)
    act_bits: int = Field(default=4, ge=1, le=16)
    input_bits: int = Field(default=8, ge=1, le=16)
    bits: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _check_bits(self) -> Self:
        keys = ("weight_bits", "act_bits", "input_bits")
        uniform = [k for k in keys if k in self.model_fields_set]
        if self.bits is not None and uniform:
            raise ValueError(
                f"model.bits (per-layer) and model.{uniform[0]} (uniform) are both set; "
                f"keep one of them"
            )
        if isinstance(self.arch, str) and self.arch not in ARCH_PRESETS:
            raise ValueError(
                f"unknown model.arch preset {self.arch!r}; use one of "
                f"{', '.join(ARCH_PRESETS)} or a mapping of CnnArch fields"
            )
        # Build both now so a bad arch or bit list fails at load time, not mid-run.
        try:
            self.build_bits(self.build_arch())
        except ConfigError as err:
            raise ValueError(str(err)) from None  # pydantic adds the file line
        return self

    def build_arch(self) -> CnnArch:
        """Return the ``codesign.models.CnnArch`` this section describes.

        Raises:
            ConfigError: The arch mapping is malformed.
        """
        from codesign.models import cnn  # noqa: PLC0415 (torch/brevitas: import on use)

        if isinstance(self.arch, str):
            return getattr(cnn, ARCH_PRESETS[self.arch])
        try:
            return cnn.CnnArch.from_dict(self.arch)
        except (ConfigError, TypeError, ValueError, KeyError) as err:
            raise ConfigError(f"model.arch: {err}") from None

    def build_bits(self, arch: CnnArch) -> BitConfig:
        """Return the ``codesign.models.BitConfig`` for ``arch``, checked against it.

        Raises:
            ConfigError: A bit-width is not allowed or the layer count does not match.
        """
        from codesign.models.bits import BitConfig  # noqa: PLC0415

        try:
            if self.bits is None:
                bits = BitConfig.uniform(
                    arch.n_layers, self.weight_bits, self.act_bits, input_bits=self.input_bits
                )
            else:
                bits = BitConfig.from_dict(self.bits)
            bits.validate(arch)
        except (ConfigError, TypeError, ValueError, KeyError) as err:
            where = "model.bits" if self.bits is not None else "model.weight_bits/act_bits"
            raise ConfigError(f"{where}: {err}") from None
        return bits


# Preset name -> attribute of codesign.models.cnn.
ARCH_PRESETS: dict[str, str] = {"quickstart": "QUICKSTART_ARCH"}


class TrainSection(Section):
    """Fixed-precision training.

    Attributes:
        epochs: Passes over the training subset.
        lr: Learning rate.
        optimizer: Optimizer name.
        weight_decay: Weight decay (L2 for adam/sgd, decoupled for adamw).
        momentum: SGD momentum (read only by ``optimizer: sgd``).
        lr_schedule: ``constant``, or ``cosine`` decay to zero over all batches.
    """

    epochs: int = Field(default=1, ge=1)
    lr: float = Field(default=2e-3, gt=0, le=1)
    optimizer: OptimizerName = OptimizerName.ADAM
    weight_decay: float = Field(default=0.0, ge=0)
    momentum: float = Field(default=0.9, ge=0, lt=1)
    lr_schedule: LrSchedule = LrSchedule.COSINE


class EvaluateSection(Section):
    """What to report: clean accuracy and accuracy under each corruption and severity.

    Attributes:
        corruptions: Corruption names (``codesign.quality.corruptions.Corruption`` values).
        severities: Severities to evaluate each corruption at.
        batch_size: Evaluation batch size (memory only; results do not depend on it).
    """

    corruptions: list[str] = Field(default_factory=list)
    severities: list[int] = Field(default_factory=lambda: [3])
    batch_size: int = Field(default=1000, ge=1)

    @model_validator(mode="after")
    def _check(self) -> Self:
        from codesign.quality.corruptions import (  # noqa: PLC0415 (imports torch)
            MAX_SEVERITY,
            MIN_SEVERITY,
            Corruption,
        )

        if self.corruptions:
            allowed = [c.value for c in Corruption]
            for name in self.corruptions:
                if name not in allowed:
                    raise ValueError(
                        f"unknown corruption {name!r} in evaluate.corruptions; "
                        f"allowed: {', '.join(allowed)}"
                    )
            if not self.severities:
                raise ValueError("evaluate.corruptions is set but evaluate.severities is empty")
        if len(set(self.corruptions)) != len(self.corruptions):
            raise ValueError("evaluate.corruptions lists a corruption twice; list each once")
        for s in self.severities:
            if not MIN_SEVERITY <= s <= MAX_SEVERITY:
                raise ValueError(
                    f"evaluate.severities: {s} is out of range; use {MIN_SEVERITY}..{MAX_SEVERITY}"
                )
        return self


class CompileSection(Section):
    """FINN compilation of the exported model to an RTL dataflow design (``RUN/compile/``).

    Give one of ``fps`` and ``lut_budget``; with neither, ``fps`` is :data:`DEFAULT_FPS`.

    Attributes:
        board: Board name (``boards/<name>.yaml``); sets the part and the clock.
        fps: Target frames per second at the board clock: every layer is folded to at most
            ``f_clk / fps`` cycles per frame.
        lut_budget: Instead of ``fps``: the fastest folding whose FINN LUT estimate fits.
        clock_ns: Clock period in ns; ``null`` keeps the board's.
    """

    board: str = "pynq-z2"
    fps: float | None = Field(default=None, gt=0)
    lut_budget: int | None = Field(default=None, gt=0)
    clock_ns: float | None = Field(default=None, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _default_target(cls, data: Any) -> Any:  # noqa: ANN401 (pydantic's raw input)
        if isinstance(data, dict) and data.get("fps") is None and data.get("lut_budget") is None:
            return {**data, "fps": DEFAULT_FPS}
        return data

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.fps is not None and self.lut_budget is not None:
            raise ValueError(
                "compile.fps and compile.lut_budget are both set; keep one of them "
                "(fps folds to a throughput, lut_budget to the fastest design that fits)"
            )
        from codesign.boards import load_board  # noqa: PLC0415 (reads board files)

        try:
            load_board(self.board)
        except ConfigError as err:
            raise ValueError(f"compile.board: {err}") from None  # pydantic adds the file line
        return self

    def build(self) -> CompileConfig:
        """The :class:`codesign.finn.config.CompileConfig` this section describes."""
        from codesign.finn.config import CompileConfig  # noqa: PLC0415 (loads onnx/qonnx)

        return CompileConfig(
            board=self.board, fps=self.fps, lut_budget=self.lut_budget, clock_ns=self.clock_ns
        )


class SimulateSection(Section):
    """Verilator simulation of the compiled design on real test images.

    The frames are the first ``frames`` images of the flow's test subset (``data.n_test``).
    Verilator's outputs must equal, bit for bit, both FINN's execution of the dataflow graph
    and the trained Brevitas model's integer outputs; any difference fails the step.

    Attributes:
        frames: Test images streamed through the design.
        size_fifos: First size the FIFOs by simulation (rewrites ``RUN/compile/compiled.onnx``
            and writes ``RUN/compile/folding_config.json``), then simulate the sized design.
            ``false`` simulates (and synthesizes) the FIFO depths FINN chose.
        sizing_frames: Frames FIFO sizing simulates (the first ones; at most ``frames``).
            The pipeline reaches its steady state within a few frames, and sizing simulates
            three or more times, so more frames only cost time.
        ready_pct: Output backpressure: percent of cycles the sink is ready (seeded by
            ``run.seed``); 100 measures the design's own throughput.
        timeout_s: Wall-clock limit in seconds for each Verilator build and each simulation.
    """

    frames: int = Field(default=256, ge=1, le=10_000)
    size_fifos: bool = True
    sizing_frames: int = Field(default=64, ge=4)
    ready_pct: int = Field(default=100, ge=1, le=100)
    timeout_s: float = Field(default=600.0, gt=0)


class SynthSection(Section):
    """Yosys synthesis of the (sized) design: the whole design, and each layer if asked.

    Results are cached by design digest under the settings cache folder, so a re-run of an
    unchanged design reads them back.

    Attributes:
        per_layer: Also synthesize each node on its own (the per-layer table in
            ``RUN/compile/synth/report.json``); the whole design is always synthesized.
        timeout_s: Wall-clock limit in seconds per Yosys run.
        jobs: Yosys runs at once (each uses one core).
    """

    per_layer: bool = True
    timeout_s: float = Field(default=1800.0, gt=0)
    jobs: int = Field(default=1, ge=1, le=64)


class FlowConfig(Section):
    """A whole flow: one field per section. Later steps add optional sections here."""

    run: RunSection = Field(default_factory=RunSection)
    data: DataSection = Field(default_factory=DataSection)
    model: ModelSection = Field(default_factory=ModelSection)
    train: TrainSection = Field(default_factory=TrainSection)
    evaluate: EvaluateSection = Field(default_factory=EvaluateSection)
    compile: CompileSection | None = None
    simulate: SimulateSection | None = None
    synth: SynthSection | None = None

    _source: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> Path | None:
        """The YAML file this config was loaded from, if any."""
        return self._source

    @model_validator(mode="after")
    def _check_sections(self) -> Self:
        from codesign.flow.steps import STEPS  # noqa: PLC0415

        for name in self.run.steps:
            for section in STEPS[name].sections:
                if getattr(self, section) is None:
                    raise ValueError(
                        f"step {name!r} needs a '{section}:' section; add one, "
                        f"or drop {name!r} from run.steps"
                    )
        if self.simulate is not None and self.simulate.frames > self.data.n_test:
            raise ValueError(
                f"simulate.frames is {self.simulate.frames} but data.n_test is "
                f"{self.data.n_test}: the simulated frames come from the test subset; "
                f"lower simulate.frames or raise data.n_test"
            )
        return self

    def with_overrides(
        self,
        *,
        out_dir: Path | None = None,
        from_step: str | None = None,
        to_step: str | None = None,
    ) -> FlowConfig:
        """Return a copy with command-line overrides applied (``None`` keeps the value).

        Raises:
            ConfigError: An override names an unknown step or an impossible range.
        """
        update: dict[str, Any] = {}
        if out_dir is not None:
            update["out_dir"] = Path(out_dir).resolve()
        if from_step is not None:
            update["from_step"] = from_step
        if to_step is not None:
            update["to_step"] = to_step
        # Checked here, so the message names the command-line options.
        select_steps(
            self.run.steps,
            update.get("from_step", self.run.from_step),
            update.get("to_step", self.run.to_step),
            option_prefix="--",
        )
        run = self.run.model_copy(update=update)
        new = self.model_copy(update={"run": run})
        new._source = self._source
        return new

    def to_yaml_dict(self) -> dict[str, Any]:
        """The config as plain YAML-able data (enums as their values, paths as strings).

        Loading the result back gives an equal config: with per-layer ``model.bits`` the
        (ignored) uniform keys are left out.
        """
        data = self.model_dump(mode="json")
        if self.model.bits is not None:
            for key in ("weight_bits", "act_bits", "input_bits"):
                data["model"].pop(key)
        return data

    def section_dict(self, name: str) -> Any:
        """One section as plain data (``None`` for an absent optional section)."""
        return self.to_yaml_dict()[name]


def select_steps(
    steps: list[str],
    from_step: str | None,
    to_step: str | None,
    *,
    option_prefix: str = "run.",
) -> list[str]:
    """Return the slice of ``steps`` from ``from_step`` to ``to_step`` (inclusive).

    Args:
        steps: The flow's steps in order.
        from_step: First step to run, or ``None`` for the first one.
        to_step: Last step to run, or ``None`` for the last one.
        option_prefix: How the options are spelt in messages (``run.`` in YAML, ``--`` on
            the command line).

    Raises:
        ConfigError: A name is not one of ``steps``, or ``from_step`` comes after ``to_step``.
    """
    sep = "_" if option_prefix == "run." else "-"
    for option, name in (("from", from_step), ("to", to_step)):
        if name is not None and name not in steps:
            raise ConfigError(
                f"unknown step {name!r} for {option_prefix}{option}{sep}step; "
                f"this flow's steps are: {', '.join(steps)}"
            )
    first = steps.index(from_step) if from_step is not None else 0
    last = steps.index(to_step) if to_step is not None else len(steps) - 1
    if first > last:
        raise ConfigError(
            f"{option_prefix}from{sep}step {from_step!r} comes after "
            f"{option_prefix}to{sep}step {to_step!r}; steps run in the order: {', '.join(steps)}"
        )
    return steps[first : last + 1]


def load_flow_config(path: Path) -> FlowConfig:
    """Load and check a flow YAML file.

    Args:
        path: The flow file.

    Returns:
        The checked config, with relative paths resolved against ``path``'s folder.

    Raises:
        ConfigError: The file is missing, is not YAML, has unknown keys or bad values. The
            message starts with ``FILE:LINE:`` where a line is known.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"flow file not found: {path}") from None
    except OSError as err:
        raise ConfigError(f"cannot read flow file {path}: {err.strerror}") from None
    try:
        raw = yaml.safe_load(text)
        lines = _key_lines(yaml.compose(text))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = err.problem or err.context or "malformed"
        raise ConfigError(f"{where}: malformed YAML: {problem}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: malformed YAML: {err}") from None
    if raw is None:
        raise ConfigError(f"{path}: the flow file is empty; start from flows/quickstart.yaml")
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}:1: a flow file must be a mapping of sections "
            f"({', '.join(FlowConfig.model_fields)}), not a {type(raw).__name__}"
        )
    _resolve_paths(raw, path.resolve().parent)
    try:
        cfg = FlowConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_format_errors(err, path, lines)) from None
    except ConfigError as err:  # raised by helpers inside validators (select_steps)
        raise ConfigError(f"{path}: {err}") from None
    cfg._source = path.resolve()
    log.debug("loaded flow config %s", path)
    return cfg


def write_resolved_config(cfg: FlowConfig, path: Path) -> Path:
    """Write ``cfg`` as YAML to ``path`` atomically; loading it back gives an equal config."""
    header = f"# resolved flow config (source: {cfg.source})\n" if cfg.source else ""
    body = yaml.safe_dump(cfg.to_yaml_dict(), sort_keys=False)
    return atomic_write_text(path, header + body)


# --- helpers ------------------------------------------------------------------------------


def _resolve_paths(raw: dict[str, Any], base: Path, model: type[BaseModel] = FlowConfig) -> None:
    """Resolve relative values of ``Path`` fields (in any section) against ``base``, in place."""
    for name, field in model.model_fields.items():
        value = raw.get(name)
        sub = _model_in(field.annotation)
        if sub is not None and isinstance(value, dict):
            _resolve_paths(value, base, sub)
        elif isinstance(value, str) and _has_path(field.annotation):
            p = Path(value).expanduser()
            raw[name] = str(p if p.is_absolute() else (base / p).resolve())


def _has_path(annotation: Any) -> bool:
    return annotation is Path or any(_has_path(a) for a in get_args(annotation))


def _key_lines(node: yaml.Node | None, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], int]:
    """Map each key path in a composed YAML tree to its 1-based line."""
    out: dict[tuple[str, ...], int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = (*prefix, str(key.value))
            out[path] = key.start_mark.line + 1
            out.update(_key_lines(value, path))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            path = (*prefix, str(i))
            out[path] = item.start_mark.line + 1
            out.update(_key_lines(item, path))
    return out


def _section_model(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The pydantic model that holds the key at ``loc`` (for listing allowed keys)."""
    model: type[BaseModel] = FlowConfig
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        sub = _model_in(field.annotation)
        if sub is None:
            return None
        model = sub
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is not None or get_args(annotation):
        for arg in get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _format_errors(err: ValidationError, path: Path, lines: dict[tuple[str, ...], int]) -> str:
    parts = []
    for e in err.errors():
        loc = tuple(str(p) for p in e["loc"] if not _is_union_tag(p))
        line = next((lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in lines), None)
        if e["type"] == "value_error":
            # A cross-field message names the key to fix (``data.batch_size``): point at it.
            for ref in _DOTTED_KEY.findall(e["msg"]):
                if tuple(ref.split(".")) in lines:
                    line = lines[tuple(ref.split("."))]
                    break
        where = f"{path}:{line}" if line is not None else str(path)
        dotted = ".".join(loc)
        if e["type"] == "extra_forbidden":
            model = _section_model(loc)
            allowed = ", ".join(model.model_fields) if model is not None else "?"
            section = ".".join(loc[:-1]) or "the top level"
            parts.append(f"{where}: unknown key {dotted!r}; allowed keys in {section}: {allowed}")
        elif e["type"] == "value_error":
            msg = re.sub(r"^Value error, ", "", e["msg"])
            parts.append(f"{where}: {msg}")
        else:
            parts.append(f"{where}: {dotted or 'config'}: {e['msg']}")
    return "; ".join(parts)


def _is_union_tag(part: str | int) -> bool:
    # pydantic puts the union member's type name into loc (e.g. 'str', 'dict[str,any]').
    return isinstance(part, str) and bool(_UNION_TAG.fullmatch(part))


_DOTTED_KEY = re.compile(r"\b([a-z_]+\.[a-z_]+)\b")
_UNION_TAG = re.compile(r"(str|int|float|dict\[.*\]|list\[.*\])")


__all__ = [
    "DEFAULT_FPS",
    "DEFAULT_STEPS",
    "CompileSection",
    "DataSection",
    "DatasetName",
    "EvaluateSection",
    "FlowConfig",
    "LrSchedule",
    "ModelSection",
    "OptimizerName",
    "RunSection",
    "SimulateSection",
    "SynthSection",
    "TrainSection",
    "load_flow_config",
    "select_steps",
    "write_resolved_config",
]
