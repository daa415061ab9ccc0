"""Running a :class:`~codesign.sim.stitch.BuildPlan`: build with a digest cache, then simulate.

A build lives in ``<cache>/verilator/<digest>/``; an identical plan (same sources, data,
command and Verilator version) is never built twice. The build is made in a temporary
folder next to it and renamed into place when it succeeded, so a killed build leaves no
half-built cache entry. The simulator runs with that folder as its working directory,
because the plan refers to its ``.dat`` memories by relative path.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from codesign.errors import CodesignError, ConfigError, ToolFailedError
from codesign.io import atomic_write_json, atomic_write_text
from codesign.settings import Settings, get_settings
from codesign.sim.stitch import BuildPlan
from codesign.tools import require_tool, tool_version

log = logging.getLogger(__name__)
_STAMP = "build.json"
_EXCERPT_LINES = 25


@dataclass(frozen=True)
class Build:
    """A built simulator.

    Attributes:
        folder: The build folder (the simulator's working directory).
        executable: The simulator binary.
        digest: The plan digest (cache key).
        build_s: Seconds the Verilator build took (0 when taken from the cache).
        cached: True when the build came from the cache.
    """

    folder: Path
    executable: Path
    digest: str
    build_s: float
    cached: bool


def verilator_version(settings: Settings | None = None) -> str:
    """The installed Verilator's version line (part of every plan's digest)."""
    return tool_version("verilator", settings)


def fst_supported() -> bool:
    """True when the C++ compiler finds the headers Verilator's FST writer needs (lz4, zlib)."""
    for header in ("lz4.h", "zlib.h"):
        try:
            proc = subprocess.run(
                ["c++", "-E", "-x", "c++", "-"],
                input=f"#include <{header}>\n",
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
        if proc.returncode != 0:
            return False
    return True


def _excerpt(text: str) -> str:
    lines = text.strip().splitlines()
    errors = [ln for ln in lines if "%Error" in ln or "error:" in ln.lower()]
    chosen = (errors or lines)[-_EXCERPT_LINES:]
    return "\n".join(chosen)


def build(
    plan: BuildPlan, log_dir: Path, settings: Settings | None = None, timeout_s: float = 900
) -> Build:
    """Build ``plan`` with Verilator, or reuse the cached build with the same digest.

    Args:
        plan: From :func:`codesign.sim.stitch.make_plan`.
        log_dir: Where ``verilator_build.log`` is written (``RUN/logs``).
        settings: Settings (cache folder, PATH); default: the process settings.
        timeout_s: Wall-clock limit for the build.

    Raises:
        ConfigError: ``timeout_s`` is not positive.
        ToolNotFoundError: Verilator is missing.
        ToolFailedError: The build failed or timed out (log excerpt + command to reproduce).
    """
    if not timeout_s > 0:
        raise ConfigError(f"the Verilator build timeout must be positive, got {timeout_s} s")
    settings = settings or get_settings()
    digest = plan.digest()
    root = Path(settings.cache_dir).resolve() / "verilator"
    folder = root / digest
    exe = folder / plan.executable
    log_path = Path(log_dir) / "verilator_build.log"
    if (folder / _STAMP).is_file() and exe.is_file():
        log.info("Verilator build %s taken from the cache", digest[:12])
        atomic_write_text(log_path, f"cache hit: {folder}\n")
        return Build(folder, exe, digest, 0.0, True)
    verilator = require_tool("verilator", settings)
    work = root / f".{digest}.{os.getpid()}.tmp"
    shutil.rmtree(work, ignore_errors=True)
    try:
        for name, content in plan.files.items():
            path = work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        cmd = [str(verilator), *plan.command[1:]]
        reproduce = f"cd {shlex.quote(str(work))} && {shlex.join(cmd)}"
        log.info(
            "building the Verilator simulator (%d files, digest %s)", len(plan.files), digest[:12]
        )
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd, cwd=work, capture_output=True, text=True, timeout=timeout_s, check=False
            )
            output, rc = proc.stdout + proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as err:
            output = (
                (err.stdout or b"").decode(errors="replace")
                if isinstance(err.stdout, bytes)
                else (err.stdout or "")
            )
            rc = None
        elapsed = time.perf_counter() - start
        atomic_write_text(log_path, f"$ {reproduce}\n{output}")
        if rc != 0 or not (work / plan.executable).is_file():
            status = f"timed out after {timeout_s:.0f} s" if rc is None else f"exited {rc}"
            raise ToolFailedError(
                f"Verilator build {status}; log {log_path}:\n{_excerpt(output)}\n"
                f"reproduce with: {reproduce}"
            )
        atomic_write_json(
            work / _STAMP,
            {
                "digest": digest,
                "build_s": round(elapsed, 3),
                "tool_version": plan.tool_version,
                "command": list(plan.command),
            },
        )
        if folder.exists():  # another process finished the same build first
            shutil.rmtree(work, ignore_errors=True)
        else:
            work.rename(folder)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)  # every failure path: no half-built folder
        raise
    log.info("Verilator build took %.1f s", elapsed)
    return Build(folder, folder / plan.executable, digest, elapsed, False)


def run(sim: Build, plusargs: dict[str, object], log_path: Path, timeout_s: float) -> float:
    """Run the built simulator with ``+key=value`` arguments; return its wall time in seconds.

    Raises:
        ConfigError: ``timeout_s`` is not positive.
        ToolFailedError: The simulator exited non-zero or ran past ``timeout_s``.
    """
    if not timeout_s > 0:
        raise ConfigError(f"the simulation timeout must be positive, got {timeout_s} s")
    cmd = [str(sim.executable), *(f"+{k}={v}" for k, v in plusargs.items())]
    reproduce = f"cd {shlex.quote(str(sim.folder))} && {shlex.join(cmd)}"
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, cwd=sim.folder, capture_output=True, text=True, timeout=timeout_s, check=False
        )
        output, rc = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as err:
        raw = err.stdout or b""
        output = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        rc = None
    elapsed = time.perf_counter() - start
    atomic_write_text(log_path, f"$ {reproduce}\n{output}")
    if rc is None:
        raise ToolFailedError(
            f"simulation ran past its {timeout_s:.0f} s timeout; log "
            f"{log_path}:\n{_excerpt(output)}\nreproduce with: {reproduce}"
        )
    if rc != 0 or "ERROR:" in output:
        raise ToolFailedError(
            f"simulation exited {rc}; log {log_path}:\n{_excerpt(output)}\n"
            f"reproduce with: {reproduce}"
        )
    return elapsed


def require_file(path: Path, what: str) -> Path:
    """Return ``path`` or raise a :class:`CodesignError` naming ``what`` is missing."""
    if not Path(path).is_file():
        raise CodesignError(f"{what} not found: {path}")
    return Path(path)
