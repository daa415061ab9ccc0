"""Axes -> points: one resolved flow config per point, named by the digest of that config.

A point is the base flow (or a candidate flow file) with one value of every axis applied as
a plain config override. The points are the product of the axes (``grid``) or a seeded
sample of it (``random``), capped by ``sweep.budget``. Points whose resolved configs are
equal are one point. The digest covers everything that changes results (it leaves out the
run name and folder), so the same point in two sweeps has the same name.

Example::

    points = expand(load_sweep_spec(Path("flows/sweep-quickstart.yaml")))
    points[0].digest, points[0].labels     # 'a1b2...', {'bits': 'W2A2'}
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from codesign.errors import ConfigError
from codesign.flow.config import FlowConfig, load_flow_config
from codesign.flow.core import step_digest
from codesign.sweep.spec import BitsAxis, Sampling, SweepSpec

log = logging.getLogger(__name__)

RUNS_DIR = "runs"
# Keys of run: that name where a point goes, not what it computes.
_PLACE_KEYS = ("name", "out_dir", "from_step", "to_step")
# Steps whose outputs points with equal configs share (the trainers).
_SHARED_STEPS = ("train", "train_dqmq")

Patch = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class AxisValue:
    """One value of one axis: a label for tables and the override it applies."""

    axis: str
    label: str
    patch: Patch | None = None
    flow: Path | None = None  # the ``flows`` axis replaces the base instead of patching


@dataclass
class Point:
    """One design point.

    Attributes:
        digest: 16 hex digits of the resolved config (without run name/folder).
        labels: Axis -> label of the value this point takes.
        config: The resolved flow config as plain data (``FlowConfig.to_yaml_dict``), with
            ``run.out_dir`` set to the point's run folder.
        train_digest: The flow runner's digest of the ``train`` step (points that share it
            share one checkpoint), or ``None`` when the flow does not train.
    """

    digest: str
    labels: dict[str, str]
    config: dict[str, Any]
    train_digest: str | None = None
    shared_steps: dict[str, str] = field(default_factory=dict)

    def flow_config(self) -> FlowConfig:
        """The point's :class:`FlowConfig`."""
        return FlowConfig.model_validate(self.config)


def config_digest(data: dict[str, Any]) -> str:
    """Digest of a resolved flow config (plain data), ignoring where the run goes."""
    # Absent optional sections are left out, so a codesign that adds a section keeps the
    # names (and results) of earlier points.
    body = {k: copy.deepcopy(v) for k, v in data.items() if v is not None}
    for key in _PLACE_KEYS:
        body.get("run", {}).pop(key, None)
    blob = json.dumps(body, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def axis_values(spec: SweepSpec, base: FlowConfig) -> list[list[AxisValue]]:
    """The non-empty axes of ``spec``, each as its list of values, in a fixed order."""
    axes = spec.axes
    out: list[list[AxisValue]] = []
    if axes.flows:
        out.append([AxisValue("flow", p.stem, flow=p) for p in axes.flows])
    if axes.bits is not None:
        bits = _bits_values(axes.bits, base)
        if bits:
            out.append(bits)
    for key, values in axes.overrides.items():
        out.append([AxisValue(key, _label(v), _set(key, v)) for v in values])
    if axes.boards:
        out.append([AxisValue("board", b, _set("compile.board", b)) for b in axes.boards])
    targets = [AxisValue("target", f"{v:g} FPS", _target("fps", v)) for v in axes.fps]
    targets += [AxisValue("target", f"{v} LUT", _target("lut_budget", v)) for v in axes.lut_budgets]
    if targets:
        out.append(targets)
    if axes.seeds:
        out.append([AxisValue("seed", str(s), _set("run.seed", s)) for s in axes.seeds])
    return out


def expand(spec: SweepSpec) -> list[Point]:
    """Resolve every point of ``spec`` into a checked flow config.

    Returns:
        The distinct points, in axis order (grid) or sample order (random).

    Raises:
        ConfigError: The grid exceeds the budget, or a point's config is invalid (the
            message names the point's axis values).
    """
    base = load_flow_config(spec.sweep.base)
    axes = axis_values(spec, base)
    sizes = [len(a) for a in axes]
    total = math.prod(sizes)
    budget = spec.sweep.budget
    if spec.sweep.sampling is Sampling.GRID:
        if budget is not None and total > budget:
            raise ConfigError(
                f"the grid has {total} points but sweep.budget is {budget}; raise the budget, "
                f"shrink the axes, or set sweep.sampling: random"
            )
        indices: list[int] = list(range(total))
    else:
        k = min(budget or total, total)
        indices = random.Random(spec.sweep.seed).sample(range(total), k)
    flows: dict[Path, dict[str, Any]] = {}
    run_root = spec.resolved_out_dir() / RUNS_DIR
    points: dict[str, Point] = {}
    for index in indices:
        choice = [axis[i] for axis, i in zip(axes, _unrank(index, sizes), strict=True)]
        point = _resolve(spec, base, choice, flows, run_root)
        points.setdefault(point.digest, point)
    log.info("sweep %s: %d points (%d combinations)", spec.sweep.name, len(points), total)
    return list(points.values())


def _resolve(
    spec: SweepSpec,
    base: FlowConfig,
    choice: list[AxisValue],
    flows: dict[Path, dict[str, Any]],
    run_root: Path,
) -> Point:
    raw = base.to_yaml_dict()
    for value in choice:
        if value.flow is not None:
            if value.flow not in flows:
                flows[value.flow] = load_flow_config(value.flow).to_yaml_dict()
            raw = copy.deepcopy(flows[value.flow])
    for key, fixed in spec.sweep.set.items():
        _set(key, fixed)(raw)
    for value in choice:
        if value.patch is not None:
            value.patch(raw)
    labels = {v.axis: v.label for v in choice}
    where = ", ".join(f"{k}={v}" for k, v in labels.items()) or "the base flow"
    try:
        cfg = FlowConfig.model_validate(raw)
    except ValidationError as err:
        e = err.errors()[0]
        loc = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        raise ConfigError(f"sweep point {where}: {loc + ': ' if loc else ''}{msg}") from None
    except ConfigError as err:
        raise ConfigError(f"sweep point {where}: {err}") from None
    data = cfg.to_yaml_dict()
    digest = config_digest(data)
    data["run"]["name"] = f"{spec.sweep.name}-{digest[:8]}"
    data["run"]["out_dir"] = str(run_root / digest)
    cfg = FlowConfig.model_validate(data)
    from codesign.flow.steps import STEPS  # noqa: PLC0415 (the flow's step registry)

    # Only steps that read no artifact have a digest known before the flow runs (the
    # runner's own digest: sections + seed); the trainers are those, and the costly part.
    shared = {}
    for name in cfg.run.steps:
        step = STEPS[name]
        if name in _SHARED_STEPS and not step.reads:
            sections = {s: cfg.section_dict(s) for s in step.sections}
            shared[name] = step_digest(step, cfg.run.seed, sections, {})
    return Point(digest, labels, data, shared.get("train"), shared)


def _unrank(index: int, sizes: list[int]) -> list[int]:
    """Mixed-radix digits of ``index`` (the last axis varies fastest)."""
    out = []
    for size in reversed(sizes):
        index, digit = divmod(index, size)
        out.append(digit)
    return out[::-1]


def _bits_values(axis: BitsAxis, base: FlowConfig) -> list[AxisValue]:
    out = [
        AxisValue("bits", f"W{u.weight}A{u.act}", _uniform(u.weight, u.act, u.input))
        for u in axis.uniform
    ]
    for i, bits in enumerate(axis.per_layer):
        out.append(AxisValue("bits", _describe(bits) or f"per-layer {i}", _per_layer(bits)))
    for run_dir in axis.tiers:
        out.extend(_tier_values(run_dir, base))
    if axis.generate is not None:
        gen = axis.generate
        arch = base.model.build_arch()
        names = arch.layer_names()
        unknown = [n for n in gen.layers if n not in names]
        if unknown:
            raise ConfigError(
                f"axes.bits.generate.layers: unknown layer {unknown[0]!r}; "
                f"this model's layers: {', '.join(names)}"
            )
        start = base.model.build_bits(arch).to_dict()
        options: list[list[tuple[int, int | None]]] = []
        for name in gen.layers:
            is_fc = name == names[-1]
            if gen.separate_act and not is_fc:
                options.append(list(itertools.product(gen.choices, gen.choices)))
            else:
                options.append([(c, None if is_fc else c) for c in gen.choices])
        for combo in itertools.product(*options):
            bits = copy.deepcopy(start)
            for name, (w, a) in zip(gen.layers, combo, strict=True):
                bits["layers"][names.index(name)] = {"weight": w, "act": a}
            out.append(AxisValue("bits", _describe(bits), _per_layer(bits)))
    return out


def _tier_values(run_dir: Path, base: FlowConfig) -> list[AxisValue]:
    """One bits value per tier of a DQMQ run folder (see :class:`BitsAxis`)."""
    from codesign.flow.dqmq import CHECKPOINT_FILE, TIERS_FILE  # noqa: PLC0415
    from codesign.flow.tier_points import file_sha256  # noqa: PLC0415

    tiers_path = run_dir / TIERS_FILE
    if not tiers_path.is_file():
        raise ConfigError(
            f"axes.bits.tiers: {tiers_path} does not exist; run the DQMQ flow (its 'tiers' "
            f"step) into {run_dir} first"
        )
    try:
        data = json.loads(tiers_path.read_text())
        tiers, choices = data["tiers"], data["choices"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise ConfigError(f"axes.bits.tiers: {tiers_path} is not a tiers file: {err}") from None
    checkpoint = run_dir / CHECKPOINT_FILE
    if not checkpoint.is_file():
        raise ConfigError(f"axes.bits.tiers: {checkpoint} does not exist; train the DQMQ flow")
    sha = file_sha256(checkpoint)
    if "train" not in base.run.steps:
        raise ConfigError("axes.bits.tiers: the base flow has no 'train' step to replace")
    models = None
    if data.get("tier_models"):  # per-tier weights: the points take them, like deploy_tiers
        models = tiers_path.parent / str(data["tier_models"])
        if not models.is_file():
            raise ConfigError(f"axes.bits.tiers: {models} does not exist; re-run the tiers step")
        models_sha = file_sha256(models)
    out = []
    for index, (bits, choice) in enumerate(zip(tiers, choices, strict=True)):
        tier = {"checkpoint": str(checkpoint), "choice": list(choice), "index": index}
        tier["sha256"] = sha
        if models is not None:
            tier["models"], tier["models_sha256"] = str(models), models_sha
        label = f"tier{index} {_describe(bits)}".strip()
        out.append(AxisValue("bits", label, _tier(bits, tier)))
    return out


def _tier(bits: dict[str, Any], tier: dict[str, Any]) -> Patch:
    per_layer = _per_layer(bits)

    def patch(raw: dict[str, Any]) -> None:
        per_layer(raw)
        run = raw.setdefault("run", {})
        run["steps"] = ["freeze_tier" if s == "train" else s for s in run.get("steps", [])]
        raw["tier"] = copy.deepcopy(tier)

    return patch


def _describe(bits: dict[str, Any]) -> str:
    try:
        parts = [f"in{bits['input_bits']}"]
        for layer in bits["layers"]:
            act = layer.get("act")
            parts.append(f"W{layer['weight']}" + ("" if act is None else f"A{act}"))
    except (KeyError, TypeError, AttributeError):
        return ""
    return " ".join(parts)


def _uniform(weight: int, act: int, input_bits: int | None) -> Patch:
    def patch(raw: dict[str, Any]) -> None:
        model = raw.setdefault("model", {})
        model.pop("bits", None)
        model["weight_bits"], model["act_bits"] = weight, act
        if input_bits is not None:
            model["input_bits"] = input_bits

    return patch


def _per_layer(bits: dict[str, Any]) -> Patch:
    def patch(raw: dict[str, Any]) -> None:
        model = raw.setdefault("model", {})
        for key in ("weight_bits", "act_bits", "input_bits"):
            model.pop(key, None)
        model["bits"] = copy.deepcopy(bits)

    return patch


def _set(dotted: str, value: Any) -> Patch:  # noqa: ANN401 (any YAML value)
    def patch(raw: dict[str, Any]) -> None:
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"axes.overrides: {dotted!r}: {key!r} is not a section")
            node = child
        node[leaf] = copy.deepcopy(value)

    return patch


def _target(key: str, value: float) -> Patch:
    def patch(raw: dict[str, Any]) -> None:
        comp = raw.get("compile")
        if comp is None:
            raise ConfigError(
                "axes.fps/lut_budgets need a compile: section in the base flow; add one"
            )
        comp["fps"], comp["lut_budget"] = None, None
        comp[key] = value

    return patch


def _label(value: Any) -> str:  # noqa: ANN401 (any YAML value)
    return value if isinstance(value, str) else json.dumps(value)
