"""``codesign build RUN --board NAME``: bitstream, reports and deployment package via finn-plus.

Exit status: 0 built (measurements written); 1 a user error (bad run folder, missing tool
other than Vivado, failed build); 2 bad command line; 3 (``EXIT_NEEDS_VIVADO``) the complete
build folder was written but Vivado is not installed here: the message gives the command that
finishes the build on a Vivado machine. ``--collect`` reads the reports of a folder finished
elsewhere into ``measurements.json`` (no Vivado needed).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from codesign.cli.main import err_console

if TYPE_CHECKING:
    from codesign.build import Measurement


@click.command()
@click.argument("run_dir", metavar="RUN", type=click.Path(path_type=Path, file_okay=False))
@click.option("--board", "board_name", required=True, help="Board name, e.g. pynq-z2.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Build folder (default RUN/build/<board>).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Write into an --out folder that holds other files (they are kept, never overwritten).",
)
@click.option(
    "--vitis-platform",
    default=None,
    help="Alveo only: Vitis platform (default: finn-plus's for the board).",
)
@click.option(
    "--unsized-fifos",
    is_flag=True,
    help="Build with the compile's FIFO depths when RUN/folding_config.json "
    "(FIFOs sized by `codesign simulate --size-fifos`) is missing.",
)
@click.option(
    "--collect",
    is_flag=True,
    help="Only read the reports of a build folder that finn-plus finished (e.g. with "
    "the printed `finn build` command on another machine) into "
    "measurements.json; needs no Vivado.",
)
def build(
    run_dir: Path,
    board_name: str,
    out_dir: Path | None,
    force: bool,
    vitis_platform: str | None,
    unsized_fifos: bool,
    collect: bool,
) -> None:
    """Build the bitstream of the compiled design in RUN with finn-plus's builder."""
    from codesign.boards import load_board  # noqa: PLC0415 (keeps `codesign --help` fast)
    from codesign.build import (  # noqa: PLC0415
        EXIT_NEEDS_VIVADO,
        collect_measurements,
        prepare_build,
        run_build,
        vivado_status,
    )
    from codesign.build.folder import default_build_dir, read_build_meta  # noqa: PLC0415
    from codesign.runs import RunKind, claim_out_dir, find_run_dir  # noqa: PLC0415
    from codesign.settings import get_settings  # noqa: PLC0415

    board = load_board(board_name)
    out = Console(soft_wrap=True, highlight=False)
    if collect and out_dir is not None:  # the build folder alone is needed
        meta = read_build_meta(out_dir)
        _show(out, collect_measurements(out_dir, board.part, float(meta["clock_ns"])), out_dir)
        return
    run_dir = find_run_dir(run_dir, RunKind.COMPILE)
    if collect:
        path = default_build_dir(run_dir, board)
        meta = read_build_meta(path)
        _show(out, collect_measurements(path, board.part, float(meta["clock_ns"])), path)
        return
    claim = claim_out_dir(out_dir or default_build_dir(run_dir, board), RunKind.BUILD, force=force)
    claim.prepare()
    try:
        folder = prepare_build(
            run_dir,
            board,
            claim.path,
            allow_unsized_fifos=unsized_fifos,
            vitis_platform=vitis_platform,
        )
    except BaseException:
        claim.abandon()
        raise
    out.print(f"build folder: {folder.path}")
    out.print(
        f"  board {board.name} ({board.part}, {board.shell.value} shell), clock "
        f"{folder.clock_ns:g} ns; {len(folder.fifo_depths)} FIFOs "
        + ("sized in simulation" if folder.fifos_sized else "NOT sized (--unsized-fifos)")
    )
    status = vivado_status(get_settings())
    if not status.usable:
        again = [
            "codesign",
            "build",
            str(folder.run_dir),
            "--board",
            board_name,
            "--out",
            str(folder.path),
        ]
        if unsized_fifos:
            again.append("--unsized-fifos")
        if vitis_platform:
            again += ["--vitis-platform", vitis_platform]
        finn = f"cd {shlex.quote(str(folder.path))} && {shlex.join(folder.finn_command())}"
        err_console.print(
            f"[bold yellow]not built:[/] {status.problem}\n"
            "The complete FINN build folder is written. To finish, on a machine with "
            "Vivado 2022.2 or 2024.2 (after `source <Xilinx>/Vivado/<ver>/settings64.sh`), "
            f"run:\n  {shlex.join(again)}\n"
            f"or, with finn-plus alone (no codesign needed there):\n  {finn}\n"
            f"then, back here: {shlex.join([*again, '--collect'])}",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(EXIT_NEEDS_VIVADO)
    err_console.print(
        f"Vivado {status.version}: running finn-plus's builder "
        f"(log: {folder.path / 'logs' / 'finn_build.log'}); this takes from "
        "about half an hour to hours",
        highlight=False,
    )
    _show(out, run_build(folder), folder.path)


def _show(out: Console, measurements: list[Measurement], build_dir: Path) -> None:
    """Print the measurements and where the results are."""
    table = Table(title=f"Vivado {measurements[0].tool_version} measurements")
    for col in ("kind", "LUT", "FF", "BRAM18", "URAM", "DSP", "WNS ns", "Fmax MHz"):
        table.add_column(col, justify="left" if col == "kind" else "right")
    for m in measurements:
        r = m.resources
        wns, fmax = m.timing.get("wns_ns"), m.timing.get("fmax_mhz")
        table.add_row(
            m.kind,
            f"{r.lut:.0f}",
            f"{r.ff:.0f}",
            f"{r.bram18:.0f}",
            f"{r.uram:.0f}",
            f"{r.dsp:.0f}",
            "-" if wns is None else f"{wns:.3f}",
            "-" if fmax is None else f"{fmax:.1f}",
        )
    out.print(table)
    out.print(f"bitfile and driver: {build_dir / 'output' / 'deploy'}")
    out.print(f"measurements: {build_dir / 'measurements.json'}")
