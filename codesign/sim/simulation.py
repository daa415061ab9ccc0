"""``simulate(run_dir, images)``: cycle-accurate Verilator simulation of a compiled run.

The same images go through FINN's execution of the dataflow graph (the reference) and
through the stitched RTL in Verilator; the outputs must agree bit for bit. The result
records latency, steady-state interval, FPS at the board clock, per-stream stall counts
and FIFO peak occupancy, and is written atomically to ``RUN/sim/<name>.json``.

Example:
    >>> from codesign.sim import simulate
    >>> res = simulate(Path("runs/c1"), images[:8], ready_pct=10)  # doctest: +SKIP
    >>> res.interval_cycles, res.fps, res.bottleneck_cycles  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codesign.errors import CodesignError, ConfigError
from codesign.io import atomic_write_json
from codesign.runfolder import RunFolder
from codesign.settings import Settings, get_settings
from codesign.sim import stitch, verilator
from codesign.sim.harness import Trace, parse_trace, write_input
from codesign.sim.packing import StreamType, pack_words, unpack_words

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


class SimMismatchError(CodesignError):
    """The RTL output differs from FINN's execution; names the first frame and element."""


class SimHangError(CodesignError):
    """The simulation stopped before every frame came out (a hang or lost outputs)."""


@dataclass(frozen=True)
class StreamStats:
    """Handshake counters of one inter-node stream.

    Attributes:
        stream: Stream name in the stitched top (``s0`` = design input).
        producer: The node writing the stream (``"input"`` for ``s0``).
        consumer: The node reading it (``"output"`` for the last stream).
        transfers: Words transferred.
        stalls: Cycles with valid && !ready (producer held up by backpressure).
        idles: Cycles with ready && !valid (consumer starved).
    """

    stream: str
    producer: str
    consumer: str
    transfers: int
    stalls: int
    idles: int


@dataclass
class SimResult:
    """What one simulation measured. ``outputs``/``expected`` are not written to JSON.

    Attributes:
        run_dir: The run folder.
        frames: Frames simulated.
        ready_pct: Output ready probability (percent) per cycle.
        seed: Seed of the backpressure generator.
        input_period: Input throttle: frame ``f`` offered from cycle ``f * input_period``
            (0: always valid).
        clock_ns: Clock period used for FPS.
        latency_cycles: Frame 0: first input word accepted -> last output word accepted.
        interval_cycles: Steady-state cycles per frame (mean spacing of frame completions,
            frame 0 excluded when there are 3 or more frames).
        fps: ``1e9 / (clock_ns * interval_cycles)``.
        total_cycles: Cycles from reset release to the last output word.
        input_start_cycles: Per frame, the cycle its first input word was accepted.
        output_done_cycles: Per frame, the cycle its last output word was accepted.
        analytic_cycles: FINN ``get_exp_cycles`` per node (FIFOs excluded).
        bottleneck_node: The node with the most expected cycles.
        bottleneck_cycles: Its expected cycles (FINN's analytic interval).
        streams: Stall counters per stream.
        fifo_depths: Depth of each FIFO in the simulated design.
        fifo_maxcount: Peak occupancy of each FIFO.
        bit_exact: Every output word matched FINN's execution.
        build_s: Verilator build seconds (0 when cached).
        build_cached: The build came from the cache.
        digest: The build plan digest.
        sim_s: Simulator wall seconds.
        reference_s: Seconds spent in FINN's execution (the reference).
        waveform: The waveform file (FST or VCD), when one was recorded.
        result_path: Where the JSON was written.
        outputs: Verilator outputs, ``(frames, *output_shape)``.
        expected: FINN's outputs, same shape.
    """

    run_dir: str
    frames: int
    ready_pct: int
    seed: int
    input_period: int
    clock_ns: float
    latency_cycles: int
    interval_cycles: float
    fps: float
    total_cycles: int
    input_start_cycles: list[int]
    output_done_cycles: list[int]
    analytic_cycles: dict[str, int]
    bottleneck_node: str
    bottleneck_cycles: int
    streams: list[StreamStats]
    fifo_depths: dict[str, int]
    fifo_maxcount: dict[str, int]
    bit_exact: bool
    build_s: float
    build_cached: bool
    digest: str
    sim_s: float
    reference_s: float
    waveform: str | None = None
    result_path: str | None = None
    outputs: np.ndarray | None = field(default=None, repr=False)
    expected: np.ndarray | None = field(default=None, repr=False)

    @property
    def cycles_vs_analytic(self) -> float:
        """Measured interval / analytic bottleneck cycles (1.0 = FINN's prediction)."""
        return self.interval_cycles / self.bottleneck_cycles

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (without the output arrays)."""
        data = asdict(self)
        data.pop("outputs")
        data.pop("expected")
        data["cycles_vs_analytic"] = round(self.cycles_vs_analytic, 5)
        return data


@dataclass(frozen=True)
class DesignIO:
    """The dataflow graph's stream interface and analytic cycle model."""

    in_type: StreamType
    in_folded: tuple[int, ...]
    in_width: int
    out_type: StreamType
    out_folded: tuple[int, ...]
    out_normal: tuple[int, ...]
    analytic: dict[str, int]

    @property
    def words_in(self) -> int:
        """Input words per frame."""
        return math.prod(self.in_folded[:-1])

    @property
    def words_out(self) -> int:
        """Output words per frame."""
        return math.prod(self.out_folded[:-1])


def design_io(model_path: Path) -> DesignIO:
    """Read the stream types, folded shapes and FINN's expected cycles from a compiled model."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from codesign.finn.context import finn_build_dir
    from codesign.finn.lut_mvau import register

    register()
    model = ModelWrapper(str(model_path))
    with finn_build_dir(Path(model_path).parent / "finn_build"):
        first = getCustomOp(model.graph.node[0])
        last = getCustomOp(model.graph.node[-1])
        analytic = {
            n.name: int(getCustomOp(n).get_exp_cycles())
            for n in model.graph.node
            if not n.op_type.startswith("StreamingFIFO")
        }
        return DesignIO(
            in_type=StreamType.from_finn(first.get_input_datatype(0)),
            in_folded=tuple(int(d) for d in first.get_folded_input_shape(0)),
            in_width=int(first.get_instream_width_padded(0)),
            out_type=StreamType.from_finn(last.get_output_datatype(0)),
            out_folded=tuple(int(d) for d in last.get_folded_output_shape(0)),
            out_normal=tuple(int(d) for d in last.get_normal_output_shape(0)),
            analytic=analytic,
        )


@dataclass(frozen=True)
class Reference:
    """FINN's execution of the parent graph on each frame.

    Attributes:
        inputs: The dataflow partition's input per frame (the integer stream values).
        outputs: The partition's output per frame (what the RTL must produce).
        seconds: Execution time.
    """

    inputs: list[np.ndarray]
    outputs: list[np.ndarray]
    seconds: float


def host_inputs(parent_path: Path, images: np.ndarray) -> np.ndarray:
    """Map float images in [0, 1] to what the parent graph takes.

    A graph whose input carries an integer datatype (``UINTb``, see
    :class:`codesign.models.integer_input.IntegerizeInput`) gets the host-side input
    quantizer's integers; a float-input graph gets the images unchanged.
    """
    import torch
    from qonnx.core.modelwrapper import ModelWrapper

    from codesign.models.quant import quantize_input

    parent = ModelWrapper(str(parent_path))
    iname = parent.graph.input[0].name
    dtype = parent.get_tensor_datatype(iname)
    images = np.asarray(images, dtype=np.float32)
    shape = tuple(int(d) for d in parent.get_tensor_shape(iname))
    if tuple(images.shape[1:]) != shape[1:]:
        raise ConfigError(
            f"images of shape {tuple(images.shape[1:])} do not fit the model "
            f"input {shape[1:]} (C, H, W)"
        )
    if dtype.is_integer() and not dtype.signed() and dtype.bitwidth() > 1:
        return quantize_input(torch.from_numpy(images), dtype.bitwidth()).numpy().astype(np.float32)
    return images


def load_inputs(path: Path, run_dir: Path) -> np.ndarray:
    """Frames from a ``.npy`` file, checked against the run's model input shape.

    Args:
        path: ``(N, *shape)`` frames, or one frame of ``shape``, where ``shape`` is the
            model's input without its batch axis (``(C, H, W)`` for a CNN, ``(F,)`` for an
            MLP), in the range the model itself takes.
        run_dir: The compiled run folder (its ``parent.onnx`` gives the input shape).

    Raises:
        ConfigError: Unreadable file, non-numeric data, NaN/inf, or the wrong shape.
    """
    from qonnx.core.modelwrapper import ModelWrapper

    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ConfigError(f"--inputs {path}: not a readable .npy array ({err})") from None
    if not np.issubdtype(data.dtype, np.number) or data.dtype.kind == "c":
        raise ConfigError(f"--inputs {path}: expected real numbers, got dtype {data.dtype}")
    if not np.isfinite(data).all():
        raise ConfigError(f"--inputs {path}: holds NaN or infinite values")
    parent = ModelWrapper(str(verilator.require_file(Path(run_dir) / "parent.onnx", "the parent")))
    shape = tuple(int(d) for d in parent.get_tensor_shape(parent.graph.input[0].name))[1:]
    if tuple(data.shape) == shape:
        data = data[None]
    if data.ndim != len(shape) + 1 or tuple(data.shape[1:]) != shape or len(data) == 0:
        raise ConfigError(
            f"--inputs {path}: shape {tuple(data.shape)} does not fit the model input "
            f"(N, {', '.join(str(d) for d in shape)})"
        )
    return data.astype(np.float32)


def finn_reference(
    run_dir: Path, model_path: Path, inputs: np.ndarray, work_dir: Path
) -> Reference:
    """Execute ``RUN/parent.onnx`` (partition = ``model_path``) on each input frame.

    Returns the partition's input and output tensors per frame, read from FINN's full
    execution context.
    """
    from finn.core.onnx_exec import execute_onnx

    from codesign.finn.context import finn_build_dir
    from codesign.finn.golden import DataflowRunner

    parent_path = verilator.require_file(Path(run_dir) / "parent.onnx", "the parent graph")
    start = time.perf_counter()
    with finn_build_dir(Path(run_dir) / "finn_build"):
        runner = DataflowRunner(parent_path, model_path, work_dir=work_dir)
        sdp = runner.parent.get_nodes_by_op_type("StreamingDataflowPartition")[0]
        iname = runner.parent.graph.input[0].name
        ins, outs = [], []
        for x in inputs:
            ctx = execute_onnx(
                runner.parent, {iname: x[None].astype(np.float32)}, return_full_exec_context=True
            )
            ins.append(np.asarray(ctx[sdp.input[0]]))
            outs.append(np.asarray(ctx[sdp.output[0]]))
    return Reference(ins, outs, time.perf_counter() - start)


def check_outputs(actual: np.ndarray, expected: np.ndarray) -> None:
    """Raise :class:`SimMismatchError` naming the first differing frame and element.

    Args:
        actual: Verilator outputs, ``(frames, *shape)``.
        expected: FINN's outputs, same shape.
    """
    if actual.shape != expected.shape:
        raise SimMismatchError(f"output shape {actual.shape} differs from FINN's {expected.shape}")
    diff = actual != expected
    if not diff.any():
        return
    frames_bad = int(diff.reshape(diff.shape[0], -1).any(axis=1).sum())
    first = np.argwhere(diff)[0]
    frame, element = int(first[0]), tuple(int(i) for i in first[1:])
    raise SimMismatchError(
        f"Verilator output differs from FINN's execution: first at frame {frame}, element "
        f"{element}: RTL {actual[tuple(first)]:g} != FINN {expected[tuple(first)]:g} "
        f"({int(diff.sum())} elements in {frames_bad} of {diff.shape[0]} frames differ)"
    )


def simulate(
    run_dir: Path,
    images: np.ndarray,
    *,
    ready_pct: int = 100,
    seed: int = 1,
    fst: bool = False,
    timeout_s: float = 600.0,
    fifo_depths: dict[str, int] | None = None,
    model_path: Path | None = None,
    name: str = "result",
    input_period: int = 0,
    max_cycles: int | None = None,
    check: bool = True,
    mvu_queue_fix: bool = False,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> SimResult:
    """Simulate ``images`` through the run's RTL in Verilator and check them against FINN.

    Args:
        run_dir: A compiled run folder (``compiled.onnx``, ``parent.onnx``, ``finn_build/``).
        images: Frames in the model's own input shape, ``(N, *shape)`` (``(N, C, H, W)``
            for a CNN, ``(N, features)`` for an MLP), in the range the model takes (float
            images in [0, 1] for an integer-input model): one frame each.
        ready_pct: Probability (percent, 1-100) that the output is ready in a cycle.
        seed: Seed of the backpressure generator.
        fst: Record a waveform (a separate, traced build): FST to ``RUN/sim/<name>.fst``, or
            VCD to ``RUN/sim/<name>.vcd`` where the lz4 headers FST needs are missing.
        timeout_s: Wall-clock limit for the build and for the simulation, each.
        fifo_depths: Simulate with these FIFO depths instead of the model's.
        model_path: The dataflow model (default: the FIFO-sized ``RUN/sized.onnx`` if
            sizing wrote one, else ``RUN/compiled.onnx``).
        name: Base name of the outputs in ``RUN/sim/``.
        input_period: Offer frame ``f`` no earlier than cycle ``f * input_period`` (0: the
            input is always valid). FIFO sizing measures with a source at the target rate.
        max_cycles: Stop the simulation after this many cycles and report a hang (default:
            20 times the expected cycles of every frame, slowed by ``ready_pct``).
        check: Raise on a mismatch (False: record ``bit_exact=False`` and return).
        mvu_queue_fix: Simulate with the MVU output-queue workaround applied.
        settings: Settings (cache folder, PATH); default: the process settings.
        progress: Called with a short phase description as the run proceeds.

    Returns:
        The measurements (also written to ``RUN/sim/<name>.json``).

    Raises:
        ConfigError: Bad arguments or images of the wrong shape.
        SimMismatchError: The RTL output differs from FINN's execution.
        SimHangError: Not every frame came out before the cycle limit.
        ToolFailedError: Verilator failed (log excerpt + command to reproduce).
    """
    settings = settings or get_settings()
    report = progress or (lambda _msg: None)
    run_dir = Path(run_dir).resolve()
    if not 1 <= ready_pct <= 100:
        raise ConfigError(f"ready_pct must be in 1..100, got {ready_pct}")
    images = np.asarray(images, dtype=np.float32)
    if images.ndim < 2 or len(images) == 0:
        raise ConfigError(
            f"images must be (N, *input shape) with N >= 1, e.g. (N, C, H, W); "
            f"got shape {images.shape}"
        )
    folder = RunFolder(run_dir)  # the clock it was compiled for, and its design model
    model_path = verilator.require_file(
        Path(model_path or folder.design_model()), "the compiled dataflow model"
    )
    sim_dir = run_dir / "sim"
    log_dir = run_dir / "logs"
    sim_dir.mkdir(parents=True, exist_ok=True)

    report("executing the dataflow graph with FINN (reference)")
    io = design_io(model_path)
    inputs = host_inputs(run_dir / "parent.onnx", images)
    ref = finn_reference(run_dir, model_path, inputs, sim_dir)
    words: list[int] = []
    for x in ref.inputs:
        if math.prod(x.shape) != math.prod(io.in_folded):
            raise ConfigError(
                f"images give a dataflow input of shape {x.shape}, the design "
                f"takes {io.in_folded} (folded)"
            )
        words += pack_words(x.reshape(io.in_folded), io.in_type, io.in_width)

    report("building the Verilator simulator")
    design = stitch.read_design(model_path, fifo_depths, mvu_queue_fix)
    wave = ""
    if fst:
        wave = "fst" if verilator.fst_supported() else "vcd"
        if wave == "vcd":
            log.warning(
                "Verilator's FST writer needs the lz4 headers (apt-get install "
                "liblz4-dev); recording a VCD waveform instead"
            )
    plan = stitch.make_plan(design, verilator.verilator_version(settings), trace=wave)
    sim = verilator.build(plan, log_dir, settings, timeout_s)

    frames = len(images)
    in_path = sim_dir / f"{name}.in.hex"
    trace_path = sim_dir / f"{name}.trace"
    write_input(in_path, words)
    bottleneck = max(io.analytic.values()) or 1
    per_frame = max(bottleneck, io.words_in, io.words_out, input_period)
    max_cycles = max_cycles or int((frames + 4) * per_frame * 20 * 100 / ready_pct) + 100_000
    plusargs: dict[str, object] = {
        "in": in_path,
        "out": trace_path,
        "nin": len(words),
        "ipf": io.words_in,
        "opf": io.words_out,
        "nframes": frames,
        "ready_pct": ready_pct,
        "seed": seed,
        "max_cycles": max_cycles,
        "frame_period": input_period,
    }
    wave_path = sim_dir / f"{name}.{wave}" if wave else None
    if wave_path is not None:
        plusargs["wave"] = wave_path
    report(f"simulating {frames} frames ({len(words)} input words)")
    sim_s = verilator.run(sim, plusargs, log_dir / f"sim_{name}.log", timeout_s)
    trace = parse_trace(trace_path)
    if not trace.finished:
        raise SimHangError(_hang_message(trace, frames, io, plan))

    actual = np.stack(
        [
            unpack_words(
                trace.words[f * io.words_out : (f + 1) * io.words_out], io.out_type, io.out_folded
            ).reshape(io.out_normal)
            for f in range(frames)
        ]
    )
    expected = np.stack([y.reshape(io.out_normal) for y in ref.outputs]).astype(np.float32)
    bit_exact = bool(np.array_equal(actual, expected))
    result = _result(
        run_dir,
        trace,
        io,
        plan,
        ready_pct,
        seed,
        input_period,
        folder.clock_ns,
        sim,
        sim_s,
        ref.seconds,
        bit_exact,
        wave_path,
    )
    result.outputs, result.expected = actual, expected
    result.result_path = str(atomic_write_json(sim_dir / f"{name}.json", result.to_dict()))
    log.info(
        "simulated %d frames: latency %d cycles, interval %.1f cycles (FINN expects %d, "
        "%s), %.0f FPS at %.1f ns, bit-exact %s",
        frames,
        result.latency_cycles,
        result.interval_cycles,
        result.bottleneck_cycles,
        result.bottleneck_node,
        result.fps,
        result.clock_ns,
        bit_exact,
    )
    if check:
        check_outputs(actual, expected)
    return result


def _interval(done: list[int]) -> float:
    if len(done) >= 3:
        return (done[-1] - done[1]) / (len(done) - 2)
    if len(done) == 2:
        return float(done[1] - done[0])
    return float(done[0]) if done else 0.0


def _result(
    run_dir: Path,
    trace: Trace,
    io: DesignIO,
    plan: stitch.BuildPlan,
    ready_pct: int,
    seed: int,
    input_period: int,
    clock_ns: float,
    sim: verilator.Build,
    sim_s: float,
    ref_s: float,
    bit_exact: bool,
    wave_path: Path | None,
) -> SimResult:
    interval = _interval(trace.output_done)
    names = [producer for _, producer in plan.streams]
    streams = [
        StreamStats(
            stream,
            producer,
            names[k + 1] if k + 1 < len(names) else "output",
            trace.streams[k].transfers,
            trace.streams[k].stalls,
            trace.streams[k].idles,
        )
        for k, (stream, producer) in enumerate(plan.streams)
        if k in trace.streams
    ]
    bottleneck_node = max(io.analytic, key=lambda n: io.analytic[n])
    return SimResult(
        run_dir=str(run_dir),
        frames=len(trace.output_done),
        ready_pct=ready_pct,
        seed=seed,
        input_period=input_period,
        clock_ns=clock_ns,
        latency_cycles=trace.output_done[0] - trace.input_start[0],
        interval_cycles=interval,
        fps=1e9 / (clock_ns * interval) if interval > 0 else 0.0,
        total_cycles=trace.output_done[-1],
        input_start_cycles=trace.input_start,
        output_done_cycles=trace.output_done,
        analytic_cycles=io.analytic,
        bottleneck_node=bottleneck_node,
        bottleneck_cycles=io.analytic[bottleneck_node],
        streams=streams,
        fifo_depths=dict(plan.fifos),
        fifo_maxcount=trace.fifo_maxcount,
        bit_exact=bit_exact,
        build_s=round(sim.build_s, 3),
        build_cached=sim.cached,
        digest=sim.digest,
        sim_s=round(sim_s, 3),
        reference_s=round(ref_s, 3),
        waveform=str(wave_path) if wave_path else None,
    )


def _hang_message(trace: Trace, frames: int, io: DesignIO, plan: stitch.BuildPlan) -> str:
    expected = frames * io.words_out
    names = [producer for _, producer in plan.streams]
    blocked = [
        f"{names[k]} ({c.stalls} stall cycles)"
        for k, c in sorted(trace.streams.items())
        if c.stalls
    ]
    return (
        f"the simulation stopped after {trace.cycles} cycles with {trace.outputs_received} "
        f"of {expected} output words ({len(trace.output_done)} of {frames} frames) and "
        f"{trace.inputs_accepted} of {frames * io.words_in} input words accepted: the "
        "design hangs or loses outputs (see the MVAU_rtl SIMD == MW backpressure bug in "
        "shared/TOOLCHAIN.md). Streams with backpressure: "
        f"{', '.join(blocked) or 'none'}"
    )
