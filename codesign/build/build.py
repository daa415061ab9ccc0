"""Bitstreams through finn-plus's own builder, and the Vivado measurements they yield.

Where Vivado is installed, :func:`run_build` runs finn-plus's ``finn build`` on a build
folder written by :func:`~codesign.build.folder.prepare_build`: that CLI boots finn-plus the
way its builder needs (settings, the XSI simulator library for the Vivado found, board-file
dependencies, tool paths) and then calls ``build_dataflow_cfg(model, DataflowBuildConfig)``.
It runs as a child process because the builder redirects ``sys.stdout`` and reconfigures the
root logger for its whole process. Its reports are then parsed into :class:`Measurement`
records (``tool="vivado"`` with the version) in ``BUILD/measurements.json``.

Without Vivado nothing here fakes it: :func:`vivado_status` says what is missing and how to
fix it, and the CLI stops after writing the folder with :data:`EXIT_NEEDS_VIVADO`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codesign.boards import Board, ShellFlow
from codesign.build.config import OUTPUT_DIR, XSIM_STEPS
from codesign.build.folder import BuildFolder, prepare_build
from codesign.build.vivado_reports import (
    ReportError,
    TimingSummary,
    parse_ooc_json,
    parse_post_synth_resources,
    parse_timing_summary,
    parse_utilization,
    read_json,
    read_text,
)
from codesign.errors import ToolFailedError, ToolNotFoundError
from codesign.io import atomic_write_json
from codesign.resources import Resources
from codesign.settings import Settings, get_settings
from codesign.tools import TOOLS, find_tool, require_tool, tool_version

log = logging.getLogger(__name__)

#: Exit status of ``codesign build`` when the folder was written but Vivado is missing
#: (0: built; 1: user error; 2: click usage error).
EXIT_NEEDS_VIVADO = 3

#: Vivado versions finn-plus 1.6.1 is used with.
SUPPORTED_VIVADO = ("2022.2", "2024.2")

MEASUREMENTS_FILE = "measurements.json"
_LOG_TAIL = 40


@dataclass(frozen=True)
class VivadoStatus:
    """Whether a Vivado that finn-plus can drive is installed.

    Attributes:
        path: The ``vivado`` binary, or None.
        version: E.g. ``2022.2``, or None when not found / not runnable.
        xilinx_vivado: ``XILINX_VIVADO`` (finn-plus reads it), or None.
        problem: What is missing, with the fix; None when usable.
    """

    path: Path | None
    version: str | None
    xilinx_vivado: Path | None
    problem: str | None

    @property
    def usable(self) -> bool:  # noqa: D102
        return self.problem is None

    def describe(self) -> str:
        """One line for ``codesign doctor``."""
        if self.usable:
            note = (
                ""
                if self.version in SUPPORTED_VIVADO
                else (f" (finn-plus is used with {' or '.join(SUPPORTED_VIVADO)})")
            )
            return f"Vivado {self.version} at {self.path}{note}"
        return str(self.problem)


@dataclass(frozen=True)
class Measurement:
    """One set of Vivado figures for a design.

    Attributes:
        kind: ``ooc_post_route`` (stitched IP alone, placed and routed out of context) or
            ``bitfile_post_route`` (the whole shell + accelerator design of the bitfile).
        tool: Always ``vivado``.
        tool_version: E.g. ``2022.2``.
        part: FPGA part.
        clock_ns: Target clock period.
        resources: Resources used.
        timing: ``wns_ns``, ``fmax_mhz``, ``met`` and, from text reports, the rest of the
            Design Timing Summary.
        per_node: Node (or shell instance) -> resources, where the report has them.
        sources: The report files read, relative to the build folder.
    """

    kind: str
    tool: str
    tool_version: str | None
    part: str
    clock_ns: float
    resources: Resources
    timing: dict[str, Any] = field(default_factory=dict)
    per_node: dict[str, Resources] = field(default_factory=dict)
    sources: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form in ``measurements.json``."""
        return {
            "kind": self.kind,
            "tool": self.tool,
            "tool_version": self.tool_version,
            "part": self.part,
            "clock_ns": self.clock_ns,
            "resources": self.resources.to_dict(),
            "timing": self.timing,
            "per_node": {k: v.to_dict() for k, v in self.per_node.items()},
            "sources": list(self.sources),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        """Rebuild from :meth:`to_dict`."""
        return cls(
            kind=data["kind"],
            tool=data["tool"],
            tool_version=data["tool_version"],
            part=data["part"],
            clock_ns=data["clock_ns"],
            resources=Resources(**data["resources"]),
            timing=data.get("timing", {}),
            per_node={k: Resources(**v) for k, v in data.get("per_node", {}).items()},
            sources=tuple(data.get("sources", ())),
        )


def vivado_status(settings: Settings | None = None) -> VivadoStatus:
    """Find Vivado and its version, or say what is missing (for ``codesign doctor``).

    Runs ``vivado -version`` when the binary is found (a few seconds).
    """
    settings = settings or get_settings()
    fix = TOOLS["vivado"].fix
    path = find_tool("vivado", settings)
    if path is None:
        return VivadoStatus(
            None,
            None,
            settings.xilinx_vivado,
            f"Vivado not found (no `vivado` on PATH or under XILINX_VIVADO): {fix}",
        )
    try:
        line = tool_version("vivado", settings)
    except ToolNotFoundError as err:
        return VivadoStatus(path, None, settings.xilinx_vivado, str(err))
    ver = parse_vivado_version(line) or line
    if settings.xilinx_vivado is None:
        return VivadoStatus(
            path,
            ver,
            None,
            f"Vivado {ver} is on PATH but XILINX_VIVADO is not set (finn-plus reads it): {fix}",
        )
    return VivadoStatus(path, ver, settings.xilinx_vivado, None)


def parse_vivado_version(line: str) -> str | None:
    """The release in the first line of ``vivado -version``, e.g. ``2022.2``.

    Example:
        >>> parse_vivado_version("vivado v2022.2 (64-bit)")
        '2022.2'
    """
    m = re.search(r"\bv(\d{4}\.\d+(?:\.\d+)?)\b", line)
    return m.group(1) if m else None


def require_build_tools(board: Board, settings: Settings | None = None) -> VivadoStatus:
    """Check everything a bitstream build for ``board`` needs before starting it.

    Vivado for everything; Vitis HLS for the shell's DMA engines (IODMA is an HLS layer);
    for Alveo also ``v++``, XRT and ``PLATFORM_REPO_PATHS``.

    Raises:
        ToolNotFoundError: The first thing missing, with the fix.
    """
    settings = settings or get_settings()
    status = vivado_status(settings)
    if not status.usable:
        raise ToolNotFoundError(str(status.problem))
    if find_tool("vitis_hls", settings) is None:
        raise ToolNotFoundError(
            f"Vitis HLS not found (the shell's DMA engines are HLS): {TOOLS['vitis_hls'].fix}"
        )
    if board.shell == ShellFlow.ALVEO:
        if find_tool("vitis", settings) is None:
            raise ToolNotFoundError(
                f"v++ not found (Alveo builds link with Vitis): {TOOLS['vitis'].fix}"
            )
        if settings.xilinx_xrt is None or settings.platform_repo_paths is None:
            raise ToolNotFoundError(
                "Alveo builds need XILINX_XRT and PLATFORM_REPO_PATHS: "
                "`source /opt/xilinx/xrt/setup.sh` and export "
                "PLATFORM_REPO_PATHS=<folder with the Alveo platforms>"
            )
    return status


def run_build(
    folder: BuildFolder, settings: Settings | None = None, timeout_s: float | None = None
) -> list[Measurement]:
    """Run finn-plus's builder on ``folder`` and record Vivado's figures.

    Takes from ~30 minutes (small design on a Zynq-7020) to several hours (large Alveo
    designs). The builder's console output goes to ``BUILD/logs/finn_build.log``.

    Returns:
        The measurements, also written to ``BUILD/measurements.json``.

    Raises:
        ToolNotFoundError: A tool is missing (see :func:`require_build_tools`).
        ToolFailedError: The builder failed; the message has the log's tail and the command.
    """
    settings = settings or get_settings()
    status = require_build_tools(folder.board, settings)
    _run_finn(folder, settings)
    return collect_measurements(
        folder.path, folder.board.part, folder.clock_ns, default_version=status.version
    )


def collect_measurements(
    build_dir: Path, part: str, clock_ns: float, default_version: str | None = None
) -> list[Measurement]:
    """Parse the reports a finished finn-plus build left in ``build_dir`` (no Vivado needed).

    Reads ``output/report/ooc_synth_and_timing.json`` and, where they still exist, the OOC
    text reports it points at (copied into ``BUILD/reports/``), and the bitfile's
    ``post_synth_resources*.json`` and ``post_route_timing.rpt``.

    Returns:
        The measurements, also written to ``BUILD/measurements.json``.

    Raises:
        ReportError: No Vivado report is there (the build did not get that far).
    """
    build_dir = Path(build_dir)
    report = build_dir / OUTPUT_DIR / "report"
    version = _builder_version(report) or default_version
    found = [
        m
        for m in (
            _ooc(build_dir, report, part, clock_ns, version),
            _bitfile(build_dir, report, part, clock_ns, version),
        )
        if m is not None
    ]
    if not found:
        raise ReportError(
            f"no Vivado reports in {report}: the build did not reach "
            "out-of-context synthesis (see logs/finn_build.log)"
        )
    atomic_write_json(build_dir / MEASUREMENTS_FILE, [m.to_dict() for m in found])
    return found


def load_measurements(build_dir: Path) -> list[Measurement]:
    """Read ``BUILD/measurements.json``."""
    data = read_json_list(Path(build_dir) / MEASUREMENTS_FILE)
    return [Measurement.from_dict(x) for x in data]


def run_xsim_performance(
    run_dir: Path, board: Board, out_dir: Path | None = None, settings: Settings | None = None
) -> dict[str, Any]:
    """Measure throughput and latency with finn-plus's ``step_measure_rtlsim_performance``.

    The same compiled design and Verilator-sized FIFOs as a bitstream build, simulated in
    Vivado's xsim by finn-plus (what ``codesign simulate --engine xsim`` calls).

    Args:
        run_dir: Compile run folder (with ``folding_config.json``).
        board: Target board.
        out_dir: Build folder; default ``RUN/xsim/<board>``.
        settings: Tool locations.

    Returns:
        ``{"engine": "xsim", "tool": "vivado", "tool_version", "clock_ns",
        "throughput_fps", "results": [finn-plus's rtlsim_performance.json entries]}``.

    Raises:
        ToolNotFoundError: No usable Vivado (xsim comes with it), with the fix.
        ToolFailedError: The simulation failed.
    """
    settings = settings or get_settings()
    status = vivado_status(settings)
    if not status.usable:
        raise ToolNotFoundError(f"xsim needs Vivado: {status.problem}")
    out_dir = Path(out_dir) if out_dir else Path(run_dir) / "xsim" / board.name.lower()
    folder = prepare_build(
        run_dir,
        board,
        out_dir,
        steps=XSIM_STEPS,
        outputs=("stitched_ip", "rtlsim_performance"),
        write_rtl=False,
    )
    _run_finn(folder, settings)
    perf = folder.output_dir / "report" / "rtlsim_performance.json"
    results = read_json_list(perf)
    if not results:
        raise ToolFailedError(f"xsim produced no results in {perf}")
    return {
        "engine": "xsim",
        "tool": "vivado",
        "tool_version": status.version,
        "clock_ns": folder.clock_ns,
        "throughput_fps": results[0].get("throughput_fps"),
        "results": results,
    }


def read_json_list(path: Path) -> list[dict[str, Any]]:
    """Read a JSON file holding a list of objects.

    Raises:
        ReportError: Missing, unreadable or not a list.
    """
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ReportError(f"cannot read {path}: {err}") from err
    if not isinstance(data, list):
        raise ReportError(f"{path} does not hold a JSON list")
    return data


def _run_finn(folder: BuildFolder, settings: Settings) -> None:
    """Run ``finn build`` in the folder; raise with the log's tail when it fails."""
    cmd = folder.finn_command()
    cmd[0] = str(require_tool("finn", settings))
    logs = folder.path / "logs"
    logs.mkdir(exist_ok=True)
    log_path = logs / "finn_build.log"
    log.info("running %s in %s (log: %s)", " ".join(cmd), folder.path, log_path)
    env = {**os.environ, "XILINX_LOCAL_USER_DATA": os.environ.get("XILINX_LOCAL_USER_DATA", "no")}
    with log_path.open("w") as fh:
        proc = subprocess.run(
            cmd, cwd=folder.path, stdout=fh, stderr=subprocess.STDOUT, env=env, check=False
        )
    status = _builder_status(folder.output_dir / "report")
    # `finn build` exits 0 even when build_dataflow_cfg reports a failure: read its record.
    if proc.returncode != 0 or status != "ok":
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-_LOG_TAIL:])
        raise ToolFailedError(
            f"finn-plus build failed (exit {proc.returncode}, status "
            f"{status}); command: cd {folder.path} && {' '.join(cmd)}; "
            f"last lines of {log_path}:\n{tail}"
        )


def _builder_status(report: Path) -> str | None:
    try:
        return read_json(report / "metadata_builder.json").get("status")
    except ReportError:
        return None


def _builder_version(report: Path) -> str | None:
    """The Vivado version finn-plus recorded (the name of XILINX_VIVADO's folder)."""
    try:
        ver = read_json(report / "metadata_builder.json").get("tool_version")
    except ReportError:
        return None
    return ver if isinstance(ver, str) and re.fullmatch(r"\d{4}\.\d+(\.\d+)?", ver) else None


def _ooc(
    build_dir: Path, report: Path, part: str, clock_ns: float, version: str | None
) -> Measurement | None:
    path = report / "ooc_synth_and_timing.json"
    if not path.is_file():
        return None
    data = read_json(path)
    res, timing = parse_ooc_json(data)
    version = timing.pop("vivado_version") or version
    sources = [str(path.relative_to(build_dir))]
    proj = Path(str(data.get("vivado_proj_folder", "")))
    copied = build_dir / "reports"
    util_txt, timing_txt = proj / "ooc_utilization.rpt", proj / "ooc_timing.rpt"
    if data.get("vivado_proj_folder") and util_txt.is_file():
        copied.mkdir(exist_ok=True)
        shutil.copy2(util_txt, copied / util_txt.name)
        util = parse_utilization(read_text(util_txt))
        res, version = util.resources, util.vivado_version or version
        sources.append(f"reports/{util_txt.name}")
    if data.get("vivado_proj_folder") and timing_txt.is_file():
        copied.mkdir(exist_ok=True)
        shutil.copy2(timing_txt, copied / timing_txt.name)
        summary = parse_timing_summary(read_text(timing_txt))
        timing = _timing(summary, clock_ns)
        sources.append(f"reports/{timing_txt.name}")
    return Measurement(
        kind="ooc_post_route",
        tool="vivado",
        tool_version=version,
        part=part,
        clock_ns=clock_ns,
        resources=res,
        timing=timing,
        sources=tuple(sources),
    )


def _bitfile(
    build_dir: Path, report: Path, part: str, clock_ns: float, version: str | None
) -> Measurement | None:
    candidates = [report / "post_synth_resources.json", report / "post_synth_resources_0.json"]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        return None
    top, per_node = parse_post_synth_resources(read_json(path))
    if top is None:
        raise ReportError(f"{path} has no '(top)' entry for the whole design")
    sources = [str(path.relative_to(build_dir))]
    timing: dict[str, Any] = {}
    timing_rpt = report / "post_route_timing.rpt"
    if timing_rpt.is_file():
        summary = parse_timing_summary(read_text(timing_rpt))
        timing = _timing(summary, clock_ns)
        version = summary.vivado_version or version
        sources.append(str(timing_rpt.relative_to(build_dir)))
    return Measurement(
        kind="bitfile_post_route",
        tool="vivado",
        tool_version=version,
        part=part,
        clock_ns=clock_ns,
        resources=top,
        timing=timing,
        per_node=per_node,
        sources=tuple(sources),
    )


def _timing(summary: TimingSummary, clock_ns: float) -> dict[str, Any]:
    # The design clock: the one whose period is the target (the Zynq shell names it
    # clk_fpga_0, the stitched IP ap_clk); else the first clock listed.
    period = next(
        (p for p in summary.clocks.values() if abs(p - clock_ns) < 1e-6),
        next(iter(summary.clocks.values()), clock_ns),
    )
    return {**summary.to_dict(), "clock_ns": period, "fmax_mhz": summary.fmax_mhz(period)}
