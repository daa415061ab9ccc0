"""The hardware steps of a flow: compile to RTL, simulate it in Verilator, synthesize it.

Each step is a thin call of the library function the matching CLI command calls, on one
compile run folder inside the flow's run folder (``RUN/compile/``, the layout
``codesign compile`` writes):

* ``step_compile``: :func:`codesign.finn.compile_model` of the exported QONNX model;
* ``step_simulate``: optional FIFO sizing (:func:`codesign.sim.size_fifos`, which writes the
  sized design ``RUN/compile/sized.onnx`` and its FIFO depths
  ``RUN/compile/folding_config.json`` beside compile's untouched ``compiled.onnx``), then
  :func:`codesign.sim.simulate` of that design (the ``design`` artifact) on test images.
  The Verilator outputs must equal FINN's execution of the dataflow graph (checked by
  ``simulate``) and the trained Brevitas model's outputs mapped to integers (checked here),
  bit for bit; any difference raises :class:`~codesign.sim.SimMismatchError`;
* ``step_synth``: :func:`codesign.synth.synthesize` of the simulated (sized) design: it
  reads the ``design`` artifact, so a new sizing re-runs it.

Example::

    from codesign.flow.steps import STEPS
    result = run_flow(load_flow_config(Path("flows/quickstart.yaml")), STEPS)
    result.state.results["simulate"]["fps"], result.state.results["synth"]["whole"]["lut"]
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.data.splits import load_split
from codesign.errors import ConfigError
from codesign.flow.config import FlowConfig
from codesign.flow.core import FlowState
from codesign.flow.sections import Section
from codesign.runfolder import RunFolder

if TYPE_CHECKING:
    from torch import Tensor

log = logging.getLogger(__name__)

COMPILE_DIR = "compile"


def step_compile(state: FlowState, cfg: FlowConfig) -> FlowState:
    """Compile the exported QONNX model to an RTL dataflow design in ``RUN/compile/``."""
    from codesign.finn.compile import compile_model  # noqa: PLC0415 (loads FINN)

    section = _section(cfg, "compile")
    state.report("compile", 0, 1)
    layer_impl = None
    if cfg.model.bits is not None:
        from codesign.models.bits import BitConfig  # noqa: PLC0415

        layer_impl = BitConfig.from_dict(cfg.model.bits).impls
    result = compile_model(
        state.path("qonnx"), section.build(layer_impl), state.run_dir / COMPILE_DIR
    )
    est = result.estimates
    if est is None or result.compiled is None:  # compile_model runs every step here
        raise RuntimeError(f"compile of {result.run_dir} stopped before its estimates")
    # The compile folder's digest is that of its dataflow model (weights, folding, FIFOs).
    state.add_artifact("compile_run", result.run_dir, parts=[result.compiled])
    state.add_artifact("compiled", result.compiled)
    run = RunFolder(result.run_dir)  # the figures as every later reader sees them
    est = run.estimates() or est
    state.results["compile"] = {
        "board": run.board,
        "part": run.part,
        "clock_ns": run.clock_ns,
        "target_fps": result.config.fps,
        "lut_budget": result.config.lut_budget,
        "estimated_fps": est.fps,
        "bottleneck": est.bottleneck,
        "max_cycles": est.max_cycles,
        "layers": len(est.layers),
        "estimate": {**est.total.to_dict(), "ff": None},  # FINN has no FF model
        "seconds": sum(result.step_seconds.values()),
    }
    state.report("compile", 1, 1)
    log.info(
        "compiled for %s: bottleneck %s, %d cycles/frame, %.0f FPS estimated",
        result.config.board,
        est.bottleneck,
        est.max_cycles,
        est.fps,
    )
    return state


def step_simulate(state: FlowState, cfg: FlowConfig) -> FlowState:
    """Size the FIFOs (optional) and simulate test images through the RTL in Verilator.

    Raises:
        SimMismatchError: The RTL differs from FINN's execution or from the Brevitas model.
        SimHangError: Not every frame came out before the cycle limit.
    """
    from codesign.sim import simulate, size_fifos  # noqa: PLC0415 (loads FINN on use)
    from codesign.sim.fifo import clear_fifo_sizing  # noqa: PLC0415

    section = _section(cfg, "simulate")
    run_dir = state.path("compile_run")
    images, labels = load_split(cfg.data.dataset.value, "test", cfg.data.n_test, cfg.run.seed)
    images, labels = images[: section.frames], labels[: section.frames]  # (N, C, H, W), (N,)
    frames = images.numpy()
    total = 3 if section.size_fifos else 2
    state.report("simulate", 0, total)

    sizing = None
    clear_fifo_sizing(run_dir)  # what an earlier run sized is not this design's
    if section.size_fifos:
        n_sizing = min(section.frames, section.sizing_frames)
        sizing = size_fifos(
            run_dir, frames[:n_sizing], timeout_s=section.timeout_s, progress=_log_phase
        )
        state.add_artifact("fifo_sizing", Path(str(sizing.result_path)))
        state.add_artifact("fifo_depths", Path(str(sizing.folding_config)))
        design = state.add_artifact("design", Path(str(sizing.sized_model)))
        state.report("simulate", 1, total)
    else:
        design = state.add_artifact("design", state.path("compiled"))

    result = simulate(
        run_dir,
        frames,
        model_path=design,
        ready_pct=section.ready_pct,
        seed=cfg.run.seed,
        timeout_s=section.timeout_s,
        progress=_log_phase,
    )  # raises SimMismatchError unless bit-exact against FINN's execution
    state.add_artifact("sim_result", Path(str(result.result_path)))
    state.report("simulate", total - 1, total)

    rtl = np.asarray(result.outputs).reshape(len(frames), -1).astype(np.int64)  # (N, classes)
    from codesign.finn.golden import run_tail_affine  # noqa: PLC0415

    scale, offset = run_tail_affine(run_dir / "parent.onnx")
    expected = brevitas_integers(
        state.path("checkpoint"), images, scale, offset, cfg.run.torch_threads
    )
    check_against_brevitas(rtl, expected)
    logits = rtl * scale.reshape(1, -1) + offset.reshape(1, -1)  # (N, classes), as the host
    accuracy = float((logits.argmax(axis=1) == labels.numpy()).mean())
    state.report("simulate", total, total)

    measured = RunFolder(run_dir).sim()  # what sim/result.json now holds
    if measured is None:  # simulate() always writes it
        raise RuntimeError(f"simulate wrote no {run_dir / 'sim' / 'result.json'}")
    state.results["simulate"] = {
        "frames": measured.frames,
        "bit_exact": {"finn": measured.bit_exact, "brevitas": True},
        "accuracy": accuracy,
        "latency_cycles": measured.latency_cycles,
        "interval_cycles": measured.interval_cycles,
        "analytic_cycles": measured.bottleneck_cycles,
        "bottleneck": measured.bottleneck_node,
        "cycles_vs_analytic": measured.cycles_vs_analytic,
        "fps": measured.fps,
        "clock_ns": measured.clock_ns,
        "ready_pct": measured.ready_pct,
        "fifo_depths": measured.fifo_depths,
        "verilator": _verilator_version(),
        "fifo_sizing": None
        if sizing is None
        else {
            "frames": n_sizing,
            "initial_interval": round(sizing.initial_interval, 2),
            "sized_interval": round(sizing.sized_interval, 2),
            "total_depth": sizing.total_depth,
            "reached": sizing.reached,
        },
        "build_cached": result.build_cached,
        "build_s": round(result.build_s, 2),
        "sim_s": round(result.sim_s, 2),
    }
    log.info(
        "RTL bit-exact with FINN and Brevitas on %d frames, accuracy %.4f", len(frames), accuracy
    )
    return state


def step_synth(state: FlowState, cfg: FlowConfig) -> FlowState:
    """Synthesize the design with Yosys: the whole design, and each layer if asked."""
    from codesign.synth.run import SYNTH_DIR, synthesize  # noqa: PLC0415

    section = _section(cfg, "synth")
    run_dir = state.path("compile_run")
    design = state.path("design")  # the simulated design: sized by simulate, or compile's
    plans = 1 + (_node_count(design) if section.per_layer else 0)
    finished = 0
    lock = threading.Lock()  # on_event comes from synthesize's worker threads

    def on_event(_name: str, what: str, _result: object) -> None:
        nonlocal finished
        if what != "start":
            with lock:
                finished += 1
                state.report("synth", finished, plans)

    state.report("synth", 0, plans)
    report = synthesize(
        run_dir,
        per_layer=section.per_layer,
        whole=True,
        timeout_s=section.timeout_s,
        jobs=section.jobs,
        on_event=on_event,
        model_path=design,
    )
    whole = report.whole
    if whole is None:  # synthesize(whole=True) always returns it
        raise RuntimeError(f"Yosys gave no whole-design result for {run_dir}")
    state.add_artifact("synth_report", run_dir / SYNTH_DIR / "report.json")
    results = [whole, *report.layers]
    run = RunFolder(run_dir)
    measured = run.synth()  # what synth/report.json now holds
    if measured is None:
        raise RuntimeError(f"Yosys wrote no whole-design result into {run_dir}")
    sim = state.results.get("simulate") or {}
    state.results["synth"] = {
        "tool": measured.version.split(" (")[0],
        "family": measured.family,
        "whole": measured.resources.to_dict(),
        "whole_seconds": measured.seconds,
        "layers": len(report.layers),
        "layer_total": report.layer_total.to_dict() if report.layers else None,
        "cached": sum(r.cached for r in results),
        "runs": len(results),
        "provenance": run.provenance(verilator=sim.get("verilator")).to_dict()
        | {"digest": run.digest(design)},
    }
    log.info(
        "Yosys whole design: LUT %d FF %d BRAM18 %d DSP %d (%d of %d results cached)",
        whole.resources.lut,
        whole.resources.ff,
        whole.resources.bram18,
        whole.resources.dsp,
        state.results["synth"]["cached"],
        len(results),
    )
    return state


def brevitas_integers(
    checkpoint: Path,
    images: Tensor,
    scale: np.ndarray,
    offset: np.ndarray,
    threads: int | None = 1,
    batch_size: int = 500,
) -> np.ndarray:
    """The trained Brevitas model's outputs as the integers the dataflow design computes.

    Args:
        checkpoint: The training checkpoint (``RUN/train/model.pt``).
        images: ``(N, C, H, W)`` float images in [0, 1].
        scale: The host-side output scale (``y = q * scale + offset``, from ``parent.onnx``).
        offset: The host-side output offset.
        threads: torch intra-op threads (``None``: torch's default).
        batch_size: Images per forward pass (memory only).

    Returns:
        ``(N, classes)`` int64.

    Raises:
        SimMismatchError: The outputs are not integers under ``(scale, offset)``: the
            compiled graph's output scale is not the model's.
    """
    import torch  # noqa: PLC0415

    from codesign.finn.golden import integer_outputs  # noqa: PLC0415
    from codesign.models.checkpoint import load_checkpoint  # noqa: PLC0415
    from codesign.sim import SimMismatchError  # noqa: PLC0415
    from codesign.train.fixed import torch_threads  # noqa: PLC0415

    model = load_checkpoint(checkpoint)
    outs = []
    with torch_threads(threads), torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            y = model(images[start : start + batch_size])  # (B, classes)
            outs.append(y.reshape(y.shape[0], -1).numpy())
    y = np.concatenate(outs)  # (N, classes)
    try:
        return integer_outputs(y, scale.reshape(1, -1), offset.reshape(1, -1))
    except ValueError as err:
        raise SimMismatchError(
            f"the Brevitas model's outputs do not map to the design's integers: {err}"
        ) from None


def check_against_brevitas(rtl: np.ndarray, expected: np.ndarray) -> None:
    """Raise :class:`~codesign.sim.SimMismatchError` unless ``rtl`` equals ``expected``.

    Args:
        rtl: Verilator outputs, ``(N, classes)`` integers.
        expected: The Brevitas model's integer outputs, same shape.
    """
    from codesign.sim import SimMismatchError  # noqa: PLC0415

    if rtl.shape != expected.shape:
        raise SimMismatchError(
            f"Verilator output shape {rtl.shape} differs from the Brevitas model's {expected.shape}"
        )
    diff = rtl != expected
    if not diff.any():
        return
    frame, k = (int(i) for i in np.argwhere(diff)[0])
    bad = int(diff.any(axis=1).sum())
    raise SimMismatchError(
        f"Verilator output differs from the Brevitas model's: first at frame {frame}, output "
        f"{k}: RTL {rtl[frame, k]} != Brevitas {expected[frame, k]} ({bad} of {len(rtl)} "
        f"frames differ)"
    )


def _section(cfg: FlowConfig, name: str) -> Any:  # noqa: ANN401 (the section's own type)
    section: Section | None = getattr(cfg, name)
    if section is None:  # FlowConfig rejects a flow that lists the step without it
        raise ConfigError(f"step {name!r} needs a '{name}:' section in the flow file")
    return section


def _log_phase(message: str) -> None:
    log.debug("%s", message)


def _node_count(model_path: Path) -> int:
    import onnx  # noqa: PLC0415

    return len(onnx.load(str(model_path), load_external_data=False).graph.node)


def _verilator_version() -> str | None:
    from codesign.errors import ToolNotFoundError  # noqa: PLC0415
    from codesign.tools import tool_version  # noqa: PLC0415

    try:
        return tool_version("verilator")
    except ToolNotFoundError:
        return None
