"""FIFO sizing with Verilator (FINN's automatic sizing needs Vivado's xsim).

:func:`size_fifos` simulates the design with deep FIFOs, reads each FIFO's peak occupancy,
sets every depth to that peak (plus one slot), and checks by simulation that the sized
design reaches FINN's analytic throughput (the ``exp_cycles`` bottleneck) within a
tolerance; FIFOs that were full in a round that missed it are doubled and simulated again.
Sizing writes its own outputs and leaves compile's ``RUN/compiled.onnx`` as compile wrote
it: ``RUN/sized.onnx`` is the design with the new depths and regenerated FIFO RTL (what
``simulate`` and ``synth`` take by default once it exists, see
:meth:`codesign.runfolder.RunFolder.design_model`), and ``RUN/folding_config.json`` holds
the whole folding, FIFO depths included, in the format
``DataflowBuildConfig.folding_config_file`` / ``ApplyConfig`` accepts (``codesign build``
applies it to ``compiled.onnx``; FINN re-applies it after inserting FIFOs when
``auto_fifo_depths`` is off). :func:`clear_fifo_sizing` removes them again.

The measurement run offers frames at FINN's analytic rate (one frame per bottleneck
interval); the check runs offer them as fast as the design takes them.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codesign.build.folding import FOLDING_ATTRS
from codesign.errors import CodesignError
from codesign.io import atomic_write_json
from codesign.runfolder import (
    COMPILED_MODEL,
    FIFO_SIZING_FILE,
    FOLDING_CONFIG,
    SIZED_MODEL,
    RunFolder,
)
from codesign.settings import Settings
from codesign.sim.simulation import Progress, SimResult, simulate

log = logging.getLogger(__name__)

# The node attributes FINN's builder extracts for a folding config (step_set_fifo_depths):
# the build's folding attributes plus the FIFO depths each node sees.
HW_ATTRS = (*FOLDING_ATTRS, "inFIFODepths", "outFIFODepths")


@dataclass
class FifoSizing:
    """The outcome of :func:`size_fifos`.

    Attributes:
        depths: Final depth per FIFO.
        initial_depths: Depths in the compiled design before sizing.
        deep_depths: Depths of the deep measurement run.
        peak_occupancy: Peak occupancy per FIFO in the deep run.
        bottleneck_node: FINN's slowest node.
        bottleneck_cycles: Its expected cycles per frame.
        initial_interval: Measured cycles per frame before sizing.
        deep_interval: Measured cycles per frame with deep FIFOs.
        sized_interval: Measured cycles per frame with the final depths.
        tolerance: Allowed relative excess over ``bottleneck_cycles``.
        reached: ``sized_interval <= bottleneck_cycles * (1 + tolerance)``.
        rounds: Sized simulations run.
        total_depth: Sum of the final depths (a proxy for FIFO cost).
        sized_model: The sized design, ``RUN/sized.onnx`` (None without write-back).
        folding_config: The folding config JSON (None without write-back).
        result_path: Where this record was written.
    """

    depths: dict[str, int]
    initial_depths: dict[str, int]
    deep_depths: dict[str, int]
    peak_occupancy: dict[str, int]
    bottleneck_node: str
    bottleneck_cycles: int
    initial_interval: float
    deep_interval: float
    sized_interval: float
    tolerance: float
    reached: bool
    rounds: int
    total_depth: int
    sized_model: str | None = None
    folding_config: str | None = None
    result_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def _stream_words(model_path: Path) -> dict[str, int]:
    """Words per frame through each FIFO."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    model = ModelWrapper(str(model_path))
    return {
        n.name: math.prod(getCustomOp(n).get_folded_output_shape()[:-1])
        for n in model.graph.node
        if n.op_type.startswith("StreamingFIFO")
    }


def size_fifos(
    run_dir: Path,
    images: np.ndarray,
    *,
    tolerance: float = 0.02,
    deep_depth: int | None = None,
    max_rounds: int = 4,
    write_back: bool = True,
    timeout_s: float = 600.0,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> FifoSizing:
    """Size the run's FIFOs by Verilator simulation; write the sized design beside compile's.

    Args:
        run_dir: A compiled run folder.
        images: Float images in [0, 1], ``(N, C, H, W)``; use enough frames (>= 4) for the
            pipeline to reach its steady state.
        tolerance: Allowed relative excess of the measured interval over FINN's bottleneck.
        deep_depth: Depth of the measurement FIFOs (default: twice the largest number of
            words per frame through any FIFO, at least 64).
        max_rounds: Sized simulations before giving up on reaching the target.
        write_back: Write ``RUN/sized.onnx`` and ``RUN/folding_config.json``
            (``RUN/compiled.onnx`` is never rewritten).
        timeout_s: Per build and per simulation.
        settings: Settings (cache folder, PATH).
        progress: Called with a short phase description.

    Returns:
        The depths and the measured intervals (also in ``RUN/sim/fifo_sizing.json``).

    Raises:
        CodesignError: The design has no FIFOs; or a simulation failed (mismatch, hang,
            tool failure: see :func:`codesign.sim.simulation.simulate`).
    """
    run_dir = Path(run_dir).resolve()
    report = progress or (lambda _msg: None)
    source = run_dir / COMPILED_MODEL  # always from compile's depths, never a sized design
    words = _stream_words(source)
    if not words:
        raise CodesignError(f"{source} has no StreamingFIFO nodes to size")

    def run(name: str, depths: dict[str, int] | None, period: int = 0) -> SimResult:
        report(f"FIFO sizing: {name}")
        return simulate(
            run_dir,
            images,
            fifo_depths=depths,
            model_path=source,
            name=f"fifo_{name}",
            input_period=period,
            timeout_s=timeout_s,
            settings=settings,
            progress=progress,
        )

    initial = run("initial", None)
    deep_value = deep_depth or max(64, 2 * max(words.values()))
    deep = {f: max(deep_value, initial.fifo_depths[f]) for f in words}
    # The source offers frames at FINN's analytic rate: an always-valid source would pile
    # whole frames into the FIFO in front of the first slow node, which says nothing about
    # the depth the design needs to sustain that rate.
    deep_run = run("deep", deep, initial.bottleneck_cycles)
    depths = {f: max(2, deep_run.fifo_maxcount[f] + 1) for f in words}
    goal = initial.bottleneck_cycles * (1 + tolerance)
    if deep_run.interval_cycles > goal:
        log.warning(
            "even %d-deep FIFOs give %.1f cycles/frame, above FINN's %d (%s): the "
            "FIFOs are not what limits throughput",
            deep_value,
            deep_run.interval_cycles,
            initial.bottleneck_cycles,
            initial.bottleneck_node,
        )
    rounds = 0
    sized = deep_run
    while rounds < max_rounds:
        rounds += 1
        sized = run(f"sized_{rounds}", depths)
        if sized.interval_cycles <= max(goal, deep_run.interval_cycles * 1.001):
            break
        full = [f for f in depths if sized.fifo_maxcount[f] >= depths[f]]
        if not full:
            break
        for f in full:
            depths[f] = min(deep[f], depths[f] * 2)
    result = FifoSizing(
        depths=depths,
        initial_depths=dict(initial.fifo_depths),
        deep_depths=deep,
        peak_occupancy=dict(deep_run.fifo_maxcount),
        bottleneck_node=initial.bottleneck_node,
        bottleneck_cycles=initial.bottleneck_cycles,
        initial_interval=initial.interval_cycles,
        deep_interval=deep_run.interval_cycles,
        sized_interval=sized.interval_cycles,
        tolerance=tolerance,
        reached=sized.interval_cycles <= goal,
        rounds=rounds,
        total_depth=sum(depths.values()),
    )
    if write_back:
        report("writing the sized design")
        model_path, cfg_path = apply_fifo_depths(run_dir, depths)
        result.sized_model, result.folding_config = str(model_path), str(cfg_path)
    result.result_path = str(atomic_write_json(run_dir / FIFO_SIZING_FILE, result.to_dict()))
    log.info(
        "FIFO sizing: %.1f -> %.1f cycles/frame (deep %.1f, FINN %d), total depth %d",
        result.initial_interval,
        result.sized_interval,
        result.deep_interval,
        result.bottleneck_cycles,
        result.total_depth,
    )
    return result


def apply_fifo_depths(run_dir: Path, depths: dict[str, int]) -> tuple[Path, Path]:
    """Write the sized design: ``RUN/sized.onnx``, regenerated FIFO RTL, the folding config.

    ``RUN/compiled.onnx`` is read, never written. Every FIFO gets its RTL regenerated by
    FINN into ``RUN/finn_build/code_gen_ipgen_<fifo>_d<depth>``, and its neighbours'
    ``outFIFODepths`` / ``inFIFODepths`` are set so that FINN's ``InsertFIFO`` recreates the
    same depths from the folding config.

    Returns:
        ``(RUN/sized.onnx, RUN/folding_config.json)``.
    """
    from finn.util.config import extract_model_config
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from codesign.finn.context import finn_build_dir

    run_dir = Path(run_dir).resolve()
    folder = RunFolder(run_dir)  # the part and clock the RTL is generated for
    part, clock_ns = folder.part, folder.clock_ns
    model = ModelWrapper(str(run_dir / COMPILED_MODEL))
    with finn_build_dir(run_dir / "finn_build") as build:
        for node in model.graph.node:
            if node.name not in depths:
                continue
            depth = int(depths[node.name])
            inst = getCustomOp(node)
            inst.set_nodeattr("depth", depth)
            code_dir = build / f"code_gen_ipgen_{node.name}_d{depth}"
            code_dir.mkdir(parents=True, exist_ok=True)
            inst.set_nodeattr("code_gen_dir_ipgen", str(code_dir))
            inst.generate_hdl(model, part, float(clock_ns))
            producer = model.find_producer(node.input[0])
            if producer is not None:
                _set_fifo_attr(getCustomOp(producer), "outFIFODepths", depth)
            consumer = model.find_consumer(node.output[0])
            if consumer is not None:
                _set_fifo_attr(getCustomOp(consumer), "inFIFODepths", depth)
        sized = run_dir / SIZED_MODEL
        tmp = run_dir / f".{SIZED_MODEL}.tmp"
        try:
            model.save(str(tmp))
            tmp.replace(sized)
        finally:
            tmp.unlink(missing_ok=True)  # after a failure or a signal mid-save
        config = extract_model_config(model, None, HW_ATTRS)
    config = {
        name: {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in attrs.items()}
        for name, attrs in config.items()
    }
    cfg_path = atomic_write_json(run_dir / FOLDING_CONFIG, config)
    return sized, cfg_path


def clear_fifo_sizing(run_dir: Path) -> list[Path]:
    """Remove what :func:`size_fifos` wrote (sized design, folding config, its record).

    After this, simulate, synth and build see compile's FIFO depths again. Compile's own
    files are not touched.

    Returns:
        The files removed.
    """
    removed = []
    for rel in (SIZED_MODEL, FOLDING_CONFIG, FIFO_SIZING_FILE):
        path = Path(run_dir) / rel
        if path.is_file():
            path.unlink()
            removed.append(path)
    if removed:
        log.info("removed the FIFO sizing of %s", run_dir)
    return removed


def _set_fifo_attr(inst: object, attr: str, depth: int) -> None:
    try:
        values = list(inst.get_nodeattr(attr))  # type: ignore[attr-defined]
    except AttributeError:
        return
    inst.set_nodeattr(attr, [depth] + values[1:] if values else [depth])  # type: ignore[attr-defined]
