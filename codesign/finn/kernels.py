"""codesign's own RTL kernels (``codesign/hls/rtl/``): where they live, how builds get them.

Shared by the LUT MVU (:mod:`codesign.finn.lut_mvau`) and the RTL max-pool
(:mod:`codesign.finn.pool_rtl`); imports neither, so they import it without a cycle.
"""

from __future__ import annotations

import importlib.resources
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: finn-plus's domain of abstract HW layers (``MVAU``, ``Pool``) before specialization.
HW_DOMAIN = "finn.custom_op.fpgadataflow"
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


def register_rtl_op(cls: type) -> None:
    """Make finn-plus and qonnx resolve the RTL op ``cls.__name__`` to ``cls`` (idempotent)."""
    from finn.custom_op.fpgadataflow import rtl  # noqa: PLC0415 (FINN on use)
    from qonnx.custom_op.registry import add_op_to_domain  # noqa: PLC0415

    if rtl.custom_op.get(cls.__name__) is not cls:
        rtl.register_custom_op(cls)
        add_op_to_domain(RTL_DOMAIN, cls)
        log.debug("registered codesign's %s", cls.__name__)


def specialize_nodes(
    model: Any,  # noqa: ANN401 - a qonnx ModelWrapper
    op_type: str,
    rtl_op_type: str,
    wanted: Callable[[Any], bool],
) -> None:
    """Specialize the abstract ``op_type`` nodes that ``wanted`` picks to ``rtl_op_type``.

    Each node is replaced in place; its attributes are copied as SpecializeLayers copies them.
    """
    from onnx import helper  # noqa: PLC0415
    from qonnx.custom_op.registry import getCustomOp  # noqa: PLC0415

    graph = model.graph
    for index, node in enumerate(list(graph.node)):
        if node.domain != HW_DOMAIN or node.op_type != op_type:
            continue
        if not wanted(getCustomOp(node)):
            continue
        new = helper.make_node(rtl_op_type, node.input, node.output, domain=RTL_DOMAIN)
        new.attribute.extend(a for a in node.attribute if a.name != "preferred_impl_style")
        new.name = node.name
        graph.node.remove(node)
        graph.node.insert(index, new)
