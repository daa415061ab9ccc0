"""``codesign simulate RUN``: Verilator simulation of a compiled run on Fashion-MNIST images."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import click
from rich import box
from rich.console import Console
from rich.table import Table

from codesign.cli.main import PositiveFloat
from codesign.errors import ConfigError

# Measured cycles/frame may exceed FINN's analytic figure by this fraction before the
# command suggests --size-fifos.
FPS_TOLERANCE = 0.05


@click.command("simulate")
@click.argument(
    "run_dir", metavar="RUN", type=click.Path(path_type=Path, file_okay=False, exists=True)
)
@click.option(
    "--frames",
    type=click.IntRange(1, 10_000),
    default=8,
    show_default=True,
    help="Fashion-MNIST test images to stream through the design.",
)
@click.option(
    "--inputs",
    "inputs_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A .npy file of frames in the model's own input shape and range, (N, *shape) or "
    "one frame, instead of Fashion-MNIST test images.",
)
@click.option(
    "--ready-pct",
    type=click.IntRange(1, 100),
    default=100,
    show_default=True,
    help="Output backpressure: percent of cycles the sink is ready (seeded).",
)
@click.option(
    "--seed", type=int, default=1, show_default=True, help="Seed of the backpressure generator."
)
@click.option(
    "--fst",
    is_flag=True,
    help="Record a waveform: RUN/sim/result.fst (VCD where lz4 headers are missing).",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=PositiveFloat(),
    default=600.0,
    show_default=True,
    help="Wall-clock limit in seconds for the build and for the simulation.",
)
@click.option(
    "--size-fifos",
    is_flag=True,
    help="First size the FIFOs (writes RUN/sized.onnx and RUN/folding_config.json; "
    "RUN/compiled.onnx stays as compiled), then simulate the sized design. Without it, "
    "an earlier sizing's RUN/sized.onnx is simulated when there is one.",
)
@click.option(
    "--engine",
    type=click.Choice(["verilator", "xsim"]),
    default="verilator",
    show_default=True,
    help="xsim: finn-plus's own rtlsim performance step in Vivado's simulator (needs "
    "Vivado), on the same design and FIFO depths, for comparison with Verilator.",
)
def simulate(
    run_dir: Path,
    frames: int,
    inputs_path: Path | None,
    ready_pct: int,
    seed: int,
    fst: bool,
    timeout_s: float,
    size_fifos: bool,
    engine: str,
) -> None:
    """Stream Fashion-MNIST test images (or --inputs) through RUN's RTL, check against FINN.

    RUN is a `codesign compile` folder, or a `codesign run` folder (its compile/ is used).
    """
    from codesign.data.datasets import load_dataset  # noqa: PLC0415 (loads numpy data)
    from codesign.runs import RunKind, find_run_dir  # noqa: PLC0415
    from codesign.sim import simulate as run_simulation  # noqa: PLC0415 (loads FINN lazily)
    from codesign.sim import size_fifos as run_sizing  # noqa: PLC0415
    from codesign.sim.simulation import load_inputs  # noqa: PLC0415

    run_dir = find_run_dir(run_dir, RunKind.COMPILE)
    if not (run_dir / "compiled.onnx").is_file():
        raise ConfigError(f"{run_dir} has no compiled.onnx: run `codesign compile` first")
    if engine == "xsim":
        _simulate_xsim(run_dir)
        return
    handler = logging.FileHandler(_log_path(run_dir))
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.getLogger().addHandler(handler)
    console = Console(stderr=True)
    t0 = time.perf_counter()
    try:
        if inputs_path is not None:
            images = load_inputs(inputs_path, run_dir)  # (N, *model input shape)
        else:
            test = load_dataset("fashion_mnist", "test")
            images = test.images[:frames, None].astype("float32") / 255.0  # (N, 1, 28, 28)
        with console.status("starting") as status:

            def progress(msg: str) -> None:
                status.update(f"{msg}  [dim]({time.perf_counter() - t0:.0f} s)[/]")
                logging.getLogger(__name__).info(msg)

            sizing = None
            if size_fifos:
                sizing = run_sizing(run_dir, images, timeout_s=timeout_s, progress=progress)
            result = run_simulation(
                run_dir,
                images,
                ready_pct=ready_pct,
                seed=seed,
                fst=fst,
                timeout_s=timeout_s,
                progress=progress,
            )
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    out = Console()
    table = Table("measure", "value", title=f"Verilator simulation of {run_dir}")
    table.add_row("frames (bit-exact vs FINN)", f"{result.frames} ({result.bit_exact})")
    table.add_row("latency", f"{result.latency_cycles} cycles")
    table.add_row("interval", f"{result.interval_cycles:.1f} cycles/frame")
    table.add_row("FINN analytic", f"{result.bottleneck_cycles} cycles ({result.bottleneck_node})")
    table.add_row("measured / analytic", f"{result.cycles_vs_analytic:.3f}")
    table.add_row("throughput", f"{result.fps:,.0f} FPS at {result.clock_ns} ns")
    table.add_row("output ready", f"{result.ready_pct}% (seed {result.seed})")
    table.add_row("Verilator build", "cached" if result.build_cached else f"{result.build_s:.1f} s")
    table.add_row("simulation", f"{result.sim_s:.2f} s")
    out.print(table)
    stalls = Table(  # fits 80 columns with the longest FINN node names
        title="backpressure per stream, in cycles (stall = valid && !ready)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    stalls.add_column("stream", no_wrap=True)
    stalls.add_column("producer", overflow="fold")
    for col in ("transfers", "stall", "idle"):
        stalls.add_column(col, justify="right", no_wrap=True)
    for s in result.streams:
        if not s.producer.startswith("StreamingFIFO"):
            stalls.add_row(s.stream, s.producer, str(s.transfers), str(s.stalls), str(s.idles))
    out.print(stalls)
    if sizing is not None:
        out.print(
            f"FIFO sizing: {sizing.initial_interval:.1f} -> {sizing.sized_interval:.1f} "
            f"cycles/frame (target {sizing.bottleneck_cycles}, reached {sizing.reached}),"
            f" total depth {sizing.total_depth}; folding config {sizing.folding_config}"
        )
    hint = fifo_hint(result, run_dir, sized=sizing is not None)
    if hint is not None:
        out.print(f"[yellow]note:[/] {hint}", soft_wrap=True, highlight=False)
    if result.waveform:
        out.print(f"waveform: {result.waveform}")
    out.print(f"results: {result.result_path}  ({time.perf_counter() - t0:.1f} s)")


def fifo_hint(result: object, run_dir: Path, sized: bool) -> str | None:  # noqa: FBT001
    """The note to print when the measured throughput misses FINN's by more than 5%.

    Args:
        result: A :class:`codesign.sim.SimResult` (``cycles_vs_analytic``, ``fps``).
        run_dir: The compile folder (named in the suggested command).
        sized: True when the FIFOs were just sized (then there is nothing to suggest).
    """
    ratio = float(result.cycles_vs_analytic)
    if sized or ratio <= 1 + FPS_TOLERANCE:
        return None
    return (
        f"measured throughput is {ratio:.2f}x slower than FINN's analytic figure "
        f"({result.fps:,.0f} vs {result.fps * ratio:,.0f} FPS): the FIFOs are likely too "
        f"shallow; size them with `codesign simulate {run_dir} --size-fifos`"
    )


def _simulate_xsim(run_dir: Path) -> None:
    """Run finn-plus's rtlsim performance measurement in xsim on RUN's board."""
    from codesign.boards import load_board  # noqa: PLC0415
    from codesign.build import run_xsim_performance  # noqa: PLC0415
    from codesign.finn.compile import load_result  # noqa: PLC0415

    board = load_board(load_result(run_dir).config.board)
    with Console(stderr=True).status(f"finn-plus rtlsim (xsim) for {board.name}"):
        perf = run_xsim_performance(run_dir, board)
    table = Table("measure", "value", title=f"xsim (Vivado {perf['tool_version']}) of {run_dir}")
    for key, value in perf["results"][0].items():
        table.add_row(str(key), str(value))
    Console().print(table)


def _log_path(run_dir: Path) -> Path:
    path = run_dir / "logs" / "simulate.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
