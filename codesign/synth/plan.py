"""A synthesis plan: every file Yosys reads (name -> content) plus its script, nothing run yet.

The plan's :meth:`SynthPlan.digest` is the cache key: two design points that stage the same
bytes for the same family are the same synthesis, whatever run folder they came from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path

import jinja2

from codesign.errors import ConfigError
from codesign.io import atomic_write_bytes
from codesign.synth.blackbox import PRIMITIVES, primitive_stubs
from codesign.synth.sources import NodeRTL, stage_sources

SCRIPT = "synth.ys"
STAT_FILE = "stat.json"
TOP = "codesign_synth_top"
#: The corrected Yosys LUTRAM library the xcup script maps memories with (hls/synth/; why: there).
LUTRAM_LIB_XCUP = "lutrams_xcup.txt"
_TEMPLATES = ("codesign", "hls/synth")  # package data, found by jinja2.PackageLoader


class Family(StrEnum):
    """``synth_xilinx -family`` values codesign uses."""

    XC7 = "xc7"
    XCU = "xcu"
    XCUP = "xcup"


def synth_family(board_family: str) -> Family:
    """Map a board family (``xc7``, ``xcu``, ``xcup``, ``versal``) to a synth_xilinx family.

    Versal has no synth_xilinx family; ``xcup`` (same LUT6/CARRY8 fabric) is the closest, and
    its DSP58 MVU variant will not elaborate (Yosys has no DSP58 model).
    """
    value = str(board_family).lower()
    if value == "versal":
        return Family.XCUP
    try:
        return Family(value)
    except ValueError:
        raise ConfigError(
            f"unknown FPGA family {board_family!r} for Yosys; expected one of "
            f"{', '.join(f.value for f in Family)} or versal"
        ) from None


@dataclass(frozen=True)
class SynthPlan:
    """Everything one Yosys run needs, in memory.

    Attributes:
        name: What is synthesized: a node name, or ``design`` for the whole chain.
        nodes: The node names it covers, in chain order.
        family: The synth_xilinx family.
        files: Relative path -> content, including the script :data:`SCRIPT`.
    """

    name: str
    nodes: tuple[str, ...]
    family: Family
    files: Mapping[str, bytes] = field(repr=False)

    @property
    def script(self) -> str:
        """The Yosys script text."""
        return self.files[SCRIPT].decode()

    def digest(self) -> str:
        """SHA-256 over every file name and content (the script names family and top)."""
        h = hashlib.sha256()
        for name in sorted(self.files):
            data = self.files[name]
            h.update(f"{name}\0{len(data)}\0".encode())
            h.update(data)
        return h.hexdigest()

    def stage(self, folder: Path) -> Path:
        """Write every file under ``folder`` (created) and return it."""
        folder = Path(folder)
        for name, data in self.files.items():
            atomic_write_bytes(folder / name, data)
        return folder


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader(*_TEMPLATES),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(template: str, **context: object) -> str:
    """Render ``codesign/hls/synth/<template>`` with ``context``."""
    return _env().get_template(template).render(**context)


def _template_bytes(name: str) -> bytes:
    """A data file of ``codesign/hls/synth`` as bytes."""
    return (resources.files("codesign") / "hls" / "synth" / name).read_bytes()


def script_files(
    name: str, sources: Sequence[str], family: Family, top: str = TOP
) -> dict[str, bytes]:
    """The Yosys script (:data:`SCRIPT`) reading ``sources``, plus the files it needs besides.

    xcup only: Yosys 0.70's UltraScale LUTRAM library fails on single-port memories over
    384 x 1, so the script maps memories with the corrected copy ``hls/synth/lutrams_xcup.txt``,
    staged with it; other families' scripts (and plan digests) are as before.
    """
    files: dict[str, bytes] = {}
    lutram_lib = ""
    if family is Family.XCUP:
        lutram_lib = LUTRAM_LIB_XCUP
        files[lutram_lib] = _template_bytes(lutram_lib)
    files[SCRIPT] = render(
        "synth.ys.j2",
        name=name,
        top=top,
        sources=list(sources),
        blackboxes=PRIMITIVES,
        family=family.value,
        stat_file=STAT_FILE,
        lutram_lib=lutram_lib,
    ).encode()
    return files


def make_plan(name: str, nodes: Sequence[NodeRTL], family: Family) -> SynthPlan:
    """Plan the synthesis of ``nodes`` as one chain (one node: a per-layer run).

    The top (``codesign/hls/synth/top.sv.j2``) joins the nodes with AXI-stream wires and exposes the
    first input and last output stream as ports, so nothing is optimized away.

    Raises:
        ConfigError: ``nodes`` is empty.
    """
    if not nodes:
        raise ConfigError(f"synthesis plan {name!r} has no nodes")
    files, hdl = stage_sources(nodes)
    files["primitives.sv"] = primitive_stubs().encode()
    widths = [nodes[0].in_width] + [n.out_width for n in nodes]
    files["top.sv"] = render(
        "top.sv.j2", top=TOP, nodes=nodes, widths=widths, in_width=widths[0], out_width=widths[-1]
    ).encode()
    files.update(script_files(name, ["primitives.sv", *hdl, "top.sv"], family))
    return SynthPlan(name=name, nodes=tuple(n.name for n in nodes), family=family, files=files)
