"""Parsers for the Vivado reports a finn-plus build leaves behind, into :class:`Resources`.

Four sources, all read as files (no Vivado needed to parse them):

* ``report_utilization`` text (``ooc_utilization.rpt`` of the out-of-context place and route
  of the stitched IP): 7-series (``Slice LUTs``/``Slice Registers``) and UltraScale+
  (``CLB LUTs``/``CLB Registers``) layouts.
* ``report_timing_summary`` text (``ooc_timing.rpt``; ``post_route_timing.rpt`` of the Zynq
  bitfile project): WNS/TNS/WHS/THS, failing endpoints and the clock periods.
* finn-plus's ``report/ooc_synth_and_timing.json`` (its own parse of the OOC reports).
* finn-plus's ``report/post_synth_resources.json`` (per node, from the hierarchical
  utilization of the routed bitfile design).

BRAM is counted in 18 Kb halves: ``bram18 = 2 * RAMB36 + RAMB18``.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from codesign.errors import CodesignError
from codesign.resources import Resources

_VERSION = re.compile(r"^\|\s*Tool Version\s*:\s*Vivado v\.(\d{4}\.\d+(?:\.\d+)?)", re.M)
_DEVICE = re.compile(r"^\|\s*Device\s*:\s*(\S+)", re.M)
# The state can be several words: "Routed", "Fully Placed", "Physopt postRoute".
_STATE = re.compile(r"^\|\s*Design State\s*:\s*(\S.*?)\s*$", re.M)
_DESIGN = re.compile(r"^\|\s*Design\s*:\s*(\S+)", re.M)

# Row labels (first table cell) -> field; the first label present wins.
_ROWS: dict[str, tuple[str, ...]] = {
    "lut": ("Slice LUTs", "CLB LUTs"),
    "ff": ("Slice Registers", "CLB Registers"),
    "lutram": ("LUT as Distributed RAM",),
    "srl": ("LUT as Shift Register",),
    "ramb36": ("RAMB36/FIFO",),
    "ramb18": ("RAMB18",),
    "uram": ("URAM",),
    "dsp": ("DSPs",),
}


class ReportError(CodesignError):
    """A Vivado report is missing, unreadable, or not in the expected format."""


@dataclass(frozen=True)
class UtilizationReport:
    """What one ``report_utilization`` text says.

    Attributes:
        resources: LUT, FF, BRAM18, URAM, DSP, LUTRAM, SRL used.
        vivado_version: E.g. ``2022.2`` (from the header), or None.
        device: The ``Device`` header field, e.g. ``xc7z020clg400-1``.
        design: The ``Design`` header field.
        state: The ``Design State`` header field (``Synthesized``, ``Fully Placed``,
            ``Routed``, ...), or None.
    """

    resources: Resources
    vivado_version: str | None
    device: str | None
    design: str | None
    state: str | None


@dataclass(frozen=True)
class TimingSummary:
    """The Design Timing Summary of a ``report_timing_summary`` text.

    Attributes:
        wns_ns: Worst negative (setup) slack.
        tns_ns: Total negative slack.
        tns_failing: Failing setup endpoints.
        whs_ns: Worst hold slack.
        ths_ns: Total hold slack.
        ths_failing: Failing hold endpoints.
        clocks: Clock name -> period in ns (the Clock Summary).
        met: The report's own verdict ("All user specified timing constraints are met.").
        vivado_version: From the header, or None.
    """

    wns_ns: float
    tns_ns: float
    tns_failing: int
    whs_ns: float
    ths_ns: float
    ths_failing: int
    clocks: dict[str, float] = field(default_factory=dict)
    met: bool = False
    vivado_version: str | None = None

    def fmax_mhz(self, period_ns: float) -> float:
        """Highest clock at which setup still closes: ``1000 / (period - WNS)`` (FINN's rule)."""
        slack_limited = period_ns - self.wns_ns
        return 1000.0 / slack_limited if slack_limited > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return asdict(self)


def parse_utilization(text: str) -> UtilizationReport:
    """Parse a Vivado ``report_utilization`` text report (flat, not ``-hierarchical``).

    Args:
        text: The report's text.

    Raises:
        ReportError: The text has no LUT or register row (not a utilization report).

    Example:
        >>> rep = parse_utilization(Path("ooc_utilization.rpt").read_text())  # doctest: +SKIP
        >>> rep.resources.lut, rep.vivado_version  # doctest: +SKIP
        (4321.0, '2022.2')
    """
    used = _table_rows(text)
    values: dict[str, float] = {}
    for key, labels in _ROWS.items():
        for label in labels:
            if label in used:
                values[key] = used[label]
                break
    if "lut" not in values or "ff" not in values:
        raise ReportError(
            "not a Vivado utilization report: no 'Slice LUTs'/'CLB LUTs' and "
            "'Slice Registers'/'CLB Registers' rows"
        )
    res = Resources(
        lut=values["lut"],
        ff=values["ff"],
        bram18=2 * values.get("ramb36", 0) + values.get("ramb18", 0),
        uram=values.get("uram", 0),
        dsp=values.get("dsp", 0),
        lutram=values.get("lutram", 0),
        srl=values.get("srl", 0),
    )
    return UtilizationReport(
        resources=res,
        vivado_version=_first(_VERSION, text),
        device=_first(_DEVICE, text),
        design=_first(_DESIGN, text),
        state=_first(_STATE, text),
    )


def parse_timing_summary(text: str) -> TimingSummary:
    """Parse the Design Timing Summary and Clock Summary of ``report_timing_summary`` text.

    Raises:
        ReportError: There is no ``WNS(ns)`` table with a row of numbers.
    """
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("WNS(ns)") and "TNS(ns)" in line:
            row = _numbers_after(lines, i)
            if row is not None and len(row) >= 8:
                break
    else:
        raise ReportError("not a Vivado timing summary: no 'WNS(ns) TNS(ns) ...' table")
    return TimingSummary(
        wns_ns=row[0],
        tns_ns=row[1],
        tns_failing=int(row[2]),
        whs_ns=row[4],
        ths_ns=row[5],
        ths_failing=int(row[6]),
        clocks=_clock_periods(lines),
        met="All user specified timing constraints are met." in text,
        vivado_version=_first(_VERSION, text),
    )


def parse_ooc_json(data: dict[str, Any]) -> tuple[Resources, dict[str, Any]]:
    """Read finn-plus's ``ooc_synth_and_timing.json``.

    finn-plus takes ``LUTRAM`` from the "LUT as Memory" row, which includes the shift
    registers, so codesign's ``lutram`` is ``LUTRAM - SRL`` here.

    Returns:
        ``(resources, timing)`` with timing keys ``wns_ns``, ``clock_ns``, ``fmax_mhz`` and
        ``vivado_version`` (each None where absent).

    Raises:
        ReportError: The JSON lacks the LUT or FF count.
    """
    if "LUT" not in data or "FF" not in data:
        raise ReportError("ooc_synth_and_timing.json has no LUT/FF counts")
    srl = float(data.get("SRL", 0))
    res = Resources(
        lut=float(data["LUT"]),
        ff=float(data["FF"]),
        bram18=2 * float(data.get("BRAM_36K", 0)) + float(data.get("BRAM_18K", 0)),
        uram=float(data.get("URAM", 0)),
        dsp=float(data.get("DSP", 0)),
        lutram=max(0.0, float(data.get("LUTRAM", 0)) - srl),
        srl=srl,
    )
    timing = {
        "wns_ns": _opt_float(data.get("WNS")),
        "clock_ns": _opt_float(data.get("clk_period_ns")),
        "fmax_mhz": _opt_float(data.get("fmax_mhz")),
        "vivado_version": data.get("vivado_version"),
    }
    return res, timing


def parse_post_synth_resources(
    data: dict[str, Any],
) -> tuple[Resources | None, dict[str, Resources]]:
    """Read finn-plus's ``post_synth_resources.json`` (hierarchical utilization, per node).

    Returns:
        ``(top, per_node)``: the whole design including the shell (``"(top)"``), or None
        when absent, and node name -> resources for every FINN node and shell part listed.

    Raises:
        ReportError: An entry is not a mapping of resource counts.
    """
    per: dict[str, Resources] = {}
    for name, counts in data.items():
        if not isinstance(counts, dict):
            raise ReportError(f"post_synth_resources.json: entry {name!r} is not a mapping")
        per[name] = Resources(
            lut=float(counts.get("LUT", 0)),
            ff=float(counts.get("FF", 0)),
            bram18=2 * float(counts.get("BRAM_36K", 0)) + float(counts.get("BRAM_18K", 0)),
            uram=float(counts.get("URAM", 0)),
            dsp=float(counts.get("DSP", 0)),
            srl=float(counts.get("SRL", 0)),
        )
    return per.pop("(top)", None), per


def read_text(path: Path) -> str:
    """Read a report file.

    Raises:
        ReportError: It cannot be read.
    """
    try:
        return Path(path).read_text(errors="replace")
    except OSError as err:
        raise ReportError(f"cannot read Vivado report {path}: {err.strerror}") from err


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON report (finn-plus writes them).

    Raises:
        ReportError: It cannot be read or is not a JSON object.
    """
    try:
        data = json.loads(Path(path).read_text())
    except OSError as err:
        raise ReportError(f"cannot read {path}: {err.strerror}") from err
    except json.JSONDecodeError as err:
        raise ReportError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise ReportError(f"{path} does not hold a JSON object")
    return data


def _table_rows(text: str) -> dict[str, float]:
    """First-cell label -> "Used" column of every ``| label | used | ...`` row (first wins)."""
    rows: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2:
            continue
        label = cells[0].rstrip("*").strip()
        try:
            value = float(cells[1].replace(",", ""))
        except ValueError:
            continue
        rows.setdefault(label, value)
    return rows


def _numbers_after(lines: list[str], header: int) -> list[float] | None:
    """The first all-numeric row below a table header (skipping the ``----`` ruler)."""
    for line in lines[header + 1 : header + 4]:
        parts = line.split()
        if not parts or set(line.strip()) <= {"-", " "}:
            continue
        try:
            return [float(p) for p in parts]
        except ValueError:
            return None
    return None


def _clock_periods(lines: list[str]) -> dict[str, float]:
    """Clock name -> period from the ``Clock  Waveform(ns)  Period(ns)`` table."""
    clocks: dict[str, float] = {}
    for i, line in enumerate(lines):
        if line.split()[:3] == ["Clock", "Waveform(ns)", "Period(ns)"]:
            for row in lines[i + 2 :]:
                m = re.match(r"^\s*(\S+)\s+\{[^}]*\}\s+([\d.]+)\s", row + " ")
                if not m:
                    break
                clocks.setdefault(m.group(1), float(m.group(2)))
            break
    return clocks


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    m = pattern.search(text)
    return m.group(1) if m else None


def _opt_float(value: Any) -> float | None:  # noqa: ANN401 - JSON value
    return None if value is None else float(value)
