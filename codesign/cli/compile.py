"""``codesign compile MODEL``: QONNX file or checkpoint -> RTL dataflow run folder."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click
from rich import box
from rich.console import Console
from rich.table import Table

from codesign.cli.main import PositiveFloat, stdout_to_log
from codesign.errors import ConfigError


@click.command("compile")
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--board", required=True, help="Board name, e.g. pynq-z2 or zcu104.")
@click.option(
    "--fps",
    type=PositiveFloat(),
    default=None,
    help="Target frames per second (give exactly one of --fps and --lut-budget).",
)
@click.option(
    "--lut-budget",
    type=click.IntRange(min=1),
    default=None,
    help="Fold to the fastest design within this many LUTs (instead of --fps).",
)
@click.option(
    "--bits",
    "bits_spec",
    default=None,
    help="Bit config for a checkpoint: a YAML file or a uniform spec (4, w4a2).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Run folder (default: runs/compile-<model name>).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Write into an --out folder that holds other files (they are kept, never overwritten).",
)
@click.option(
    "--impl",
    type=click.Choice(["dsp", "lut", "auto"]),
    default="dsp",
    show_default=True,
    help="MVAU multipliers: finn-plus's DSP MVU, codesign's LUT MVU, or auto (LUT for "
    "<= 4-bit layers); a --bits YAML may set impl per layer.",
)
@click.option(
    "--clock-ns", type=PositiveFloat(), default=None, help="Override the board clock (ns)."
)
@click.option("--no-ip", is_flag=True, help="Skip RTL generation (PrepareIP).")
@click.option("--from-step", default=None, help="Resume the run folder at this step.")
@click.option("--to-step", default=None, help="Stop after this step.")
def compile_cmd(
    model: Path,
    board: str,
    fps: float | None,
    lut_budget: int | None,
    bits_spec: str | None,
    out_dir: Path | None,
    force: bool,
    clock_ns: float | None,
    impl: str,
    no_ip: bool,
    from_step: str | None,
    to_step: str | None,
) -> None:
    """Compile MODEL (a QONNX .onnx file or a training checkpoint) to RTL for a board.

    Give exactly one target: --fps (fold to reach this throughput) or --lut-budget.
    """
    from codesign.finn.compile import compile_model  # noqa: PLC0415 (loads FINN)
    from codesign.finn.config import CompileConfig  # noqa: PLC0415
    from codesign.finn.inputs import export_checkpoint, layer_impls  # noqa: PLC0415
    from codesign.runs import RunKind, claim_out_dir  # noqa: PLC0415

    t0 = time.perf_counter()
    if (fps is None) == (lut_budget is None):
        raise click.UsageError("give exactly one of --fps and --lut-budget")
    cfg = CompileConfig.from_dict(
        {
            "board": board,
            "fps": fps,
            "lut_budget": lut_budget,
            "clock_ns": clock_ns,
            "bits": bits_spec,
            "prepare_ip": not no_ip,
            "impl": impl,
            "layer_impl": layer_impls(bits_spec),
        },
        source="codesign compile options",
    )
    out_dir = out_dir or Path("runs") / f"compile-{model.stem}"
    claim_out_dir(out_dir, RunKind.COMPILE, force=force)  # refuse before the slow export
    is_onnx = model.suffix.lower() == ".onnx"
    if is_onnx and bits_spec is not None:
        raise ConfigError(
            "--bits applies to checkpoints; a QONNX model's bit-widths are fixed by its quantizers"
        )
    with tempfile.TemporaryDirectory(prefix="codesign-export-") as tmp:
        if from_step is not None:
            qonnx = model
        elif is_onnx:
            qonnx = model
        else:
            with stdout_to_log():  # torch.onnx prints progress lines on stdout
                qonnx = export_checkpoint(model, bits_spec, Path(tmp))
        result = compile_model(
            qonnx, cfg, out_dir, start_step=from_step, stop_step=to_step, force=force
        )
    out = Console()
    if result.estimates is not None:
        out.print(estimates_table(result.estimates))
        for note in result.estimates.notes:
            out.print(f"[dim]note: {note}[/]")
    out.print(f"run folder: {result.run_dir}  ({time.perf_counter() - t0:.1f} s)")


def estimates_table(est: object) -> Table:
    """The per-layer estimate table (FINN's figures; RTL MVAU LUTs are not estimated)."""
    from codesign.finn.estimates import Estimates  # noqa: PLC0415

    assert isinstance(est, Estimates)
    # 80 columns: the layer name carries the op type; URAM only where the board has some.
    show_uram = est.total.uram > 0
    table = Table(
        title=f"FINN estimates on {est.part} at {1e3 / est.clock_ns:g} MHz",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        caption_justify="left",
    )
    uram = ("URAM",) if show_uram else ()
    cols = ("layer", "impl", "PE", "SIMD", "LUT", "BRAM18", *uram, "DSP")
    for col in (*cols, "cycles"):
        if col == "layer":
            table.add_column(col, overflow="fold")
        else:
            table.add_column(col, justify="right", no_wrap=True)
    for layer in est.layers:
        r = layer.resources
        dsp_mvu = layer.op_type in ("MVAU_rtl", "VVAU_rtl") and layer.impl != "lut"
        lut = "0*" if dsp_mvu else f"{r.lut:.0f}"
        style = "bold red" if layer.name == est.bottleneck else None
        table.add_row(
            layer.name,
            layer.impl or "-",
            _opt(layer.pe),
            _opt(layer.simd),
            lut,
            f"{r.bram18:.0f}",
            *((f"{r.uram:.0f}",) if show_uram else ()),
            f"{r.dsp:.0f}",
            str(layer.cycles),
            style=style,
        )
    t = est.total
    table.add_section()
    table.add_row(
        "total",
        "",
        "",
        "",
        f"{t.lut:.0f}*",
        f"{t.bram18:.0f}",
        *((f"{t.uram:.0f}",) if show_uram else ()),
        f"{t.dsp:.0f}",
        f"max {est.max_cycles}",
    )
    table.caption = (
        f"bottleneck {est.bottleneck}: {est.max_cycles} cycles/frame -> "
        f"{est.fps:,.0f} FPS (* see the note)"
    )
    return table


def _opt(value: int | None) -> str:
    return "-" if value is None else str(value)
