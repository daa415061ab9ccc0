"""Compile orchestration: QONNX file + :class:`CompileConfig` -> a run folder.

The run folder (docs/ARCHITECTURE.md) is written into a temp sibling and renamed into place
only when every step succeeded, so an error never leaves a half-written run behind.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import onnx
from qonnx.core.modelwrapper import ModelWrapper

from codesign.errors import ConfigError
from codesign.finn.config import CompileConfig
from codesign.finn.context import finn_build_dir
from codesign.finn.estimates import Estimates
from codesign.finn.folding import ResourceEstimator, finn_estimate
from codesign.finn.steps import STEP_NAMES, STEPS, StepContext, intermediate_name
from codesign.io import atomic_write_json, atomic_write_text
from codesign.resources import Resources
from codesign.runs import MARKER_FILE, Mode, RunKind, claim_out_dir

log = logging.getLogger(__name__)

QONNX_FILE = Path("qonnx") / "model.onnx"


@dataclass(frozen=True)
class CompileResult:
    """Where a compile put its outputs.

    Attributes:
        run_dir: The run folder.
        config: The resolved config (also ``RUN/config.yaml``).
        qonnx: The copied QONNX model.
        parent: ``RUN/parent.onnx`` (None when stopped before partitioning).
        compiled: ``RUN/compiled.onnx`` (None when stopped before the last step).
        estimates: The per-layer estimates (None when stopped before them).
        step_seconds: Wall time per step that ran, in order.
    """

    run_dir: Path
    config: CompileConfig
    qonnx: Path
    parent: Path | None
    compiled: Path | None
    estimates: Estimates | None
    step_seconds: dict[str, float]

    @property
    def finn_build(self) -> Path:
        """``RUN/finn_build``: FINN's generated RTL (``code_gen_ipgen_<node>_*``)."""
        return self.run_dir / "finn_build"


def resolve_config(cfg: CompileConfig) -> tuple[CompileConfig, Resources]:
    """Fill ``part`` and ``clock_ns`` from the board; return its capacity x ``utilization``.

    Raises:
        ConfigError: Unknown board (from ``codesign.boards``).
    """
    from codesign.boards import load_board

    board = load_board(cfg.board)
    resolved = cfg.model_copy(
        update={"part": cfg.part or board.part, "clock_ns": cfg.clock_ns or board.clock_ns}
    )
    capacity = board.capacity
    if cfg.utilization < 1:
        scaled = ("lut", "ff", "bram18", "uram", "dsp")
        capacity = Resources(**{k: getattr(capacity, k) * cfg.utilization for k in scaled})
    return resolved, capacity


def load_qonnx(path: Path) -> onnx.ModelProto:
    """Load an ONNX file with its external data, or raise a one-line :class:`ConfigError`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"model file {path} does not exist")
    try:
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto, full_check=False)
    except Exception as err:  # noqa: BLE001 - protobuf/onnx raise many types for bad files
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"{path} is not a readable ONNX model ({first})") from None
    inits = {t.name for t in proto.graph.initializer}
    inputs = [i.name for i in proto.graph.input if i.name not in inits]
    if len(inputs) != 1 or len(proto.graph.output) != 1:
        raise ConfigError(
            f"{path}: expected one graph input and one output, got "
            f"{len(inputs)} and {len(proto.graph.output)}"
        )
    return proto


def compile_model(
    qonnx_path: Path,
    cfg: CompileConfig,
    run_dir: Path,
    *,
    start_step: str | None = None,
    stop_step: str | None = None,
    estimate: ResourceEstimator = finn_estimate,
    force: bool = False,
) -> CompileResult:
    """Compile a QONNX model to a FINN RTL dataflow graph in ``run_dir``.

    Args:
        qonnx_path: The QONNX file (``model.onnx``, with its external data beside it). With
            ``start_step``, it is ignored: the run folder already holds the model.
        cfg: What to compile for; ``part``/``clock_ns`` default to the board's.
        run_dir: The run folder to create. An existing compile run folder is replaced on
            success (entries codesign did not write are kept); any other non-empty folder is
            refused (:func:`codesign.runs.claim_out_dir`).
        start_step: Resume an existing run folder at this step (from the model the previous
            step saved in ``RUN/intermediate``).
        stop_step: Stop after this step.
        estimate: Prices a folding in the FPS and LUT-budget searches: FINN's estimate by
            default, a cost model through
            :func:`~codesign.finn.folding.cost_model_estimator`.
        force: Write into a folder of user files (they are kept, never overwritten).

    Returns:
        The paths and estimates of the run.

    Raises:
        ConfigError: Bad model file, unknown board or step name.
        OutputPathError: ``run_dir`` may not be written (see :mod:`codesign.runs`).
        UnsupportedModelError: A node cannot become RTL (each one named, with the fix).
        InfeasibleError: The FPS target or LUT budget cannot be met on the board.

    Example:
        >>> cfg = CompileConfig(board="pynq-z2", fps=10_000)  # doctest: +SKIP
        >>> result = compile_model(Path("model.onnx"), cfg, Path("runs/c1"))  # doctest: +SKIP
        >>> result.estimates.fps  # doctest: +SKIP
    """
    from codesign.finn.lut_mvau import register

    register()
    run_dir = Path(run_dir).resolve()
    first = _step_index(start_step, "start") if start_step else 0
    last = _step_index(stop_step, "stop") if stop_step else len(STEPS) - 1
    if last < first:
        raise ConfigError(f"stop step {stop_step!r} comes before start step {start_step!r}")
    resolved, capacity = resolve_config(cfg)
    out = claim_out_dir(run_dir, RunKind.COMPILE, force=force)
    if first > 0 and not (out.mode is Mode.SAME and (run_dir / "intermediate").is_dir()):
        raise ConfigError(f"cannot resume at {start_step!r}: {run_dir} has no intermediate models")
    if first == 0:
        proto = load_qonnx(Path(qonnx_path))

    work = out.work_dir()
    try:
        if first > 0:
            for name in sorted(out.own_entries() - {MARKER_FILE}):
                src = run_dir / name
                if src.is_dir() and not src.is_symlink():
                    shutil.copytree(src, work / name, symlinks=True)
                else:
                    shutil.copy2(src, work / name, follow_symlinks=False)
            _drop_outputs_from(work, first)
            _relocate(work, run_dir, work)
            model = _load_intermediate(work, first)
        else:
            model = ModelWrapper(_save_qonnx(proto, work / QONNX_FILE))
        atomic_write_text(work / "config.yaml", resolved.to_yaml())
        ctx = StepContext(cfg=resolved, capacity=capacity, run_dir=work, estimate=estimate)
        seconds = _run_steps(model, ctx, first, last)
        compiled = work / "compiled.onnx" if last == len(STEPS) - 1 else None
        _relocate(work, work, run_dir)
        out.install(work)
    except BaseException:
        out.discard(work)
        raise
    return _result(run_dir, resolved, seconds, compiled is not None)


def load_result(run_dir: Path) -> CompileResult:
    """Read back a finished run folder's result."""
    run_dir = Path(run_dir)
    cfg = CompileConfig.from_yaml(run_dir / "config.yaml")
    return _result(run_dir, cfg, {}, (run_dir / "compiled.onnx").is_file())


def _result(
    run_dir: Path, cfg: CompileConfig, seconds: dict[str, float], done: bool
) -> CompileResult:
    import json

    est_path = run_dir / "estimates.json"
    est = Estimates.from_dict(json.loads(est_path.read_text())) if est_path.is_file() else None
    parent = run_dir / "parent.onnx"
    return CompileResult(
        run_dir=run_dir,
        config=cfg,
        qonnx=run_dir / QONNX_FILE,
        parent=parent if parent.is_file() else None,
        compiled=run_dir / "compiled.onnx" if done else None,
        estimates=est,
        step_seconds=seconds,
    )


def _step_index(name: str, what: str) -> int:
    if name not in STEP_NAMES:
        raise ConfigError(f"unknown {what} step {name!r}; steps: {', '.join(STEP_NAMES)}")
    return STEP_NAMES.index(name)


def _save_qonnx(proto: onnx.ModelProto, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(
        proto,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=path.name + ".data",
        size_threshold=1024,
    )
    return str(path)


def _load_intermediate(run_dir: Path, first: int) -> ModelWrapper:
    if first == 0:
        return ModelWrapper(str(run_dir / QONNX_FILE))
    prev = run_dir / "intermediate" / intermediate_name(first, STEP_NAMES[first - 1])
    if not prev.is_file():
        raise ConfigError(
            f"cannot resume at {STEP_NAMES[first]!r}: {prev.name} is missing "
            "in the run folder's intermediate/"
        )
    return ModelWrapper(str(prev))


# run-folder outputs -> the step that writes them (dropped when resuming at or before it)
_PRODUCED_BY = {
    "parent.onnx": "create_dataflow_partition",
    "intermediate/partitions": "create_dataflow_partition",
    "estimates.json": "estimates",
    "finn_build": "prepare_ip",
    "compiled.onnx": "prepare_ip",
}


def _drop_outputs_from(run_dir: Path, first: int) -> None:
    """Remove what steps ``first`` and later wrote, so a resumed run holds nothing stale."""
    for index in range(first, len(STEPS)):
        (run_dir / "intermediate" / intermediate_name(index + 1, STEP_NAMES[index])).unlink(
            missing_ok=True
        )
    for rel, step in _PRODUCED_BY.items():
        if STEP_NAMES.index(step) >= first:
            path = run_dir / rel
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)


def _run_steps(model: ModelWrapper, ctx: StepContext, first: int, last: int) -> dict[str, float]:
    inter = ctx.run_dir / "intermediate"
    inter.mkdir(parents=True, exist_ok=True)
    timings_path = ctx.run_dir / "logs" / "steps.json"
    seconds: dict[str, float] = {}
    handler = _log_file(ctx.run_dir / "logs" / "compile.log")
    pkg_log = logging.getLogger()  # the root: FINN's and qonnx's records go to the log too
    old_level = pkg_log.level
    if pkg_log.getEffectiveLevel() > logging.INFO:
        pkg_log.setLevel(logging.INFO)  # so the run's log file gets the step lines
    try:
        with finn_build_dir(ctx.run_dir / "finn_build"):
            for index in range(first, last + 1):
                name, step = STEPS[index]
                t0 = time.perf_counter()
                log.info("step %d/%d %s", index + 1, len(STEPS), name)
                model = step(model, ctx)
                seconds[name] = round(time.perf_counter() - t0, 3)
                model.save(str(inter / intermediate_name(index + 1, name)))
                atomic_write_json(timings_path, seconds)
            if last == len(STEPS) - 1:
                model.save(str(ctx.run_dir / "compiled.onnx"))
                _point_parent_at(ctx.parent_path, ctx.run_dir / "compiled.onnx")
    finally:
        pkg_log.removeHandler(handler)
        pkg_log.setLevel(old_level)
        handler.close()
    return seconds


def _log_file(path: Path) -> logging.Handler:
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    handler.setLevel(logging.INFO)
    logging.getLogger().addHandler(handler)
    return handler


def _point_parent_at(parent_path: Path, dataflow: Path) -> None:
    """Make the parent's StreamingDataflowPartition refer to the final dataflow model."""
    from qonnx.custom_op.registry import getCustomOp

    if not parent_path.is_file():
        return
    parent = ModelWrapper(str(parent_path))
    for node in parent.get_nodes_by_op_type("StreamingDataflowPartition"):
        getCustomOp(node).set_nodeattr("model", str(dataflow))
    parent.save(str(parent_path))


def _relocate(folder: Path, old: Path, new: Path) -> None:
    """Rewrite absolute paths under ``old`` to ``new`` in the run folder's models and code.

    FINN stores absolute paths (``code_gen_dir_ipgen``, the partition's ``model``) in node
    attributes and some generated files; the folder is renamed after compiling, so those
    paths move with it.
    """
    old_b, new_b = str(old).encode(), str(new).encode()
    if old_b == new_b:
        return
    for path in folder.rglob("*"):
        if not path.is_file() or path.is_symlink() or QONNX_FILE.parent.name in path.parts:
            continue
        if path.suffix == ".onnx":
            _relocate_onnx(path, str(old), str(new))
        elif path.stat().st_size < 64 * 2**20:
            data = path.read_bytes()
            if old_b in data:
                path.write_bytes(data.replace(old_b, new_b))


def _relocate_onnx(path: Path, old: str, new: str) -> None:
    proto = onnx.load(str(path), load_external_data=False)
    changed = False
    for node in proto.graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.STRING and old.encode() in attr.s:
                attr.s = attr.s.replace(old.encode(), new.encode())
                changed = True
    for prop in proto.metadata_props:
        if old in prop.value:
            prop.value = prop.value.replace(old, new)
            changed = True
    if changed:
        onnx.save_model(proto, str(path))
