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

1. Write ``class CompileSection(Section)`` in :mod:`codesign.flow.sections` with its fields
   and defaults (fixed choices as ``StrEnum``, file paths typed ``Path``: relative ones are
   resolved against the flow file), and add ``compile: CompileSection | None = None`` to
   :class:`FlowConfig`. ``None`` keeps old flow files valid.
2. Write ``step_compile(state, cfg) -> state`` in :mod:`codesign.flow.steps` and register it
   in ``STEPS`` with ``sections=("compile",), reads=("qonnx",), writes=(...)``: a flow that
   lists the step without the section is rejected at load time (when the registry is passed
   in, as the CLI does), and the runner re-runs the step (and the steps that read what it
   writes) when the section or the QONNX model changes.
3. Append ``compile`` to ``run.steps`` in the flow files that should run it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from codesign.data.datasets import DatasetName
from codesign.errors import ConfigError
from codesign.flow.core import Step, select_steps
from codesign.flow.dqmq_section import DqmqSection
from codesign.flow.feedback import FeedbackSection
from codesign.flow.sections import (
    DEFAULT_FPS,
    DEFAULT_STEPS,
    STEPS_CONTEXT,
    CompileSection,
    DataSection,
    EvaluateSection,
    LrSchedule,
    ModelSection,
    OptimizerName,
    RunSection,
    SearchSection,
    Section,
    SimulateSection,
    SynthSection,
    TrainSection,
    step_registry,
)
from codesign.flow.tier_points import TierSection
from codesign.io import atomic_write_text

log = logging.getLogger(__name__)


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
    search: SearchSection | None = None
    feedback: FeedbackSection | None = None
    dqmq: DqmqSection | None = None
    tier: TierSection | None = None

    _source: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> Path | None:
        """The YAML file this config was loaded from, if any."""
        return self._source

    @model_validator(mode="after")
    def _check_sections(self, info: ValidationInfo) -> Self:
        registry = step_registry(info) or {}
        for name in self.run.steps:
            step = registry.get(name)
            for section in step.sections if step is not None else ():
                if getattr(self, section) is None:
                    raise ValueError(
                        f"step {name!r} needs a '{section}:' section; add one, "
                        f"or drop {name!r} from run.steps"
                    )
        self._check_priced_impl()
        if self.simulate is not None and self.simulate.frames > self.data.n_test:
            raise ValueError(
                f"simulate.frames is {self.simulate.frames} but data.n_test is "
                f"{self.data.n_test}: the simulated frames come from the test subset; "
                f"lower simulate.frames or raise data.n_test"
            )
        return self

    def _check_priced_impl(self) -> None:
        """DQMQ's cost model must price the MVUs that the flow's compile deploys.

        ``dqmq.cost_model: lut`` prices LUT-based MVUs and ``analytic`` DSP-based ones; a
        compile with the other ``impl`` would train the policy against hardware it is never
        deployed on. ``impl: auto`` mixes both by bit-width and is left to the user.
        """
        if self.dqmq is None or self.compile is None or self.dqmq.cost_model.value == "bitops":
            return
        priced, deployed = str(self.dqmq.impl), str(self.compile.impl)
        if deployed != "auto" and priced != deployed:
            raise ValueError(
                f"dqmq.cost_model {self.dqmq.cost_model.value!r} prices {priced} MVUs, but "
                f"compile.impl is {deployed!r}: the policy would be trained against hardware "
                f"the tiers are not deployed on; set compile.impl: {priced}, or "
                f"dqmq.cost_model: {'lut' if deployed == 'lut' else 'analytic'}"
            )

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


def load_flow_config(path: Path, steps: Mapping[str, Step] | None = None) -> FlowConfig:
    """Load and check a flow YAML file.

    Args:
        path: The flow file.
        steps: The step registry (``codesign.flow.steps.STEPS`` or one a caller extends).
            With it, ``run.steps`` is checked here (names, artifact order, the sections each
            step reads); without it, the runner checks the names against its registry.

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
        lines = yaml_key_lines(yaml.compose(text))
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
        cfg = validate_flow_config(raw, steps)
    except ValidationError as err:
        raise ConfigError(_format_errors(err, path, lines)) from None
    except ConfigError as err:  # raised by helpers inside validators (select_steps)
        raise ConfigError(f"{path}: {err}") from None
    cfg._source = path.resolve()
    log.debug("loaded flow config %s", path)
    return cfg


def validate_flow_config(
    data: Mapping[str, Any], steps: Mapping[str, Step] | None = None
) -> FlowConfig:
    """``FlowConfig.model_validate(data)`` with the step registry in the validation context.

    Raises:
        pydantic.ValidationError: As ``model_validate`` (:func:`load_flow_config` turns it
            into a :class:`~codesign.errors.ConfigError` with file lines).
    """
    context = {STEPS_CONTEXT: steps} if steps is not None else None
    return FlowConfig.model_validate(data, context=context)


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


def yaml_key_lines(
    node: yaml.Node | None, prefix: tuple[str, ...] = ()
) -> dict[tuple[str, ...], int]:
    """Map each key path in a composed YAML tree to its 1-based line."""
    out: dict[tuple[str, ...], int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = (*prefix, str(key.value))
            out[path] = key.start_mark.line + 1
            out.update(yaml_key_lines(value, path))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            path = (*prefix, str(i))
            out[path] = item.start_mark.line + 1
            out.update(yaml_key_lines(item, path))
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
    "Section",
    "SimulateSection",
    "SynthSection",
    "TrainSection",
    "load_flow_config",
    "select_steps",
    "validate_flow_config",
    "write_resolved_config",
    "yaml_key_lines",
]
