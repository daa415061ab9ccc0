"""codesign's own RTL kernels (``codesign/hls/rtl/``): where they live, how builds get them.

Shared by the LUT MVU (:mod:`codesign.finn.lut_mvau`) and the RTL max-pool
(:mod:`codesign.finn.pool_rtl`); imports neither, so they import it without a cycle.
"""

from __future__ import annotations

import importlib.resources
import os
import shutil
from pathlib import Path

#: finn-plus's domain of specialized RTL ops, where codesign's classes are registered.
RTL_DOMAIN = "finn.custom_op.fpgadataflow.rtl"
#: Folder beside the nodes' code_gen_ipgen_* folders that holds the kernels of a build.
SHARED_DIR = "codesign_rtllib"
#: The kernels' sources (package data, so a wheel install finds them).
RTL_DIR = Path(str(importlib.resources.files("codesign").joinpath("hls", "rtl")))


def copy_kernel_sources(folder: Path, kernel_dir: Path, names: tuple[str, ...]) -> None:
    """Copy kernel sources into ``folder`` (unchanged files are left alone), atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        src, dst = kernel_dir / name, folder / name
        if not dst.is_file() or dst.read_bytes() != src.read_bytes():
            tmp = dst.with_suffix(dst.suffix + f".{os.getpid()}.tmp")
            shutil.copyfile(src, tmp)
            tmp.replace(dst)
