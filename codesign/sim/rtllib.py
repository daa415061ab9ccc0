"""finn-rtllib sources as Verilator needs them: read from the installed package, patched.

The installed finn-plus package is never edited. :func:`library_source` returns the text of
one finn-rtllib file with the edits Verilator 5.48 needs applied in memory; the stitcher
then writes it into the build folder as part of the plan. Each edit names the exact text it
replaces, so a finn-plus update that changes that text fails loudly instead of silently
building unpatched RTL.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from codesign.errors import CodesignError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Edit:
    """Replace ``old`` (which must occur exactly once) by ``new`` in one library file.

    Attributes:
        path: File path relative to finn-rtllib.
        old: Exact text to replace.
        new: Replacement text.
        why: One line on why Verilator needs it.
    """

    path: str
    old: str
    new: str
    why: str


_LEAF_LOAD_FN = """\t\t// Compute the count of decendents for all nodes in the reduction trees.
\t\ttypedef int unsigned  leaf_load_t[2*N-1];
\t\tfunction leaf_load_t init_leaf_loads();
\t\t\tautomatic leaf_load_t  res;
\t\t\tfor(int unsigned  i = 2*N-1; i-- > N-1;)  res[i] = 1;
\t\t\tfor(int unsigned  i =   N-1; i-- >   0;)  res[i] = res[2*i+1] + res[2*i+2];
\t\t\treturn  res;
\t\tendfunction : init_leaf_loads
\t\tlocalparam leaf_load_t   LEAF_LOAD = init_leaf_loads();
"""

# Edits every Verilator build needs (see shared/TOOLCHAIN.md, "Verilator quirks").
VERILATOR_EDITS: tuple[Edit, ...] = (
    Edit(
        "mvu/add_multi.sv",
        _LEAF_LOAD_FN,
        "",
        "Verilator cannot constant-evaluate a function declared inside a generate block",
    ),
    Edit(
        "mvu/add_multi.sv",
        "\tlocalparam int unsigned  L = $clog2(N);",
        _LEAF_LOAD_FN.replace("\t\t", "\t") + "\tlocalparam int unsigned  L = $clog2(N);",
        "(the function moved out of genTree)",
    ),
    Edit(
        "fifo/hdl/fifo.sv",
        "\ttypedef struct {\n\t\tint unsigned  lo;",
        "\ttypedef struct packed {\n\t\tint unsigned  lo;",
        "Verilator cannot constant-evaluate unpacked-struct assignment patterns",
    ),
    Edit(
        "fifo/hdl/fifo.sv",
        "\t\tautomatic abits_t  abits = '{ lo: $clog2(DEPTH_REQ), hi: 0 };",
        "\t\tautomatic abits_t  abits;\n\t\tabits.lo = $clog2(DEPTH_REQ);\n\t\tabits.hi = 0;",
        "(field-wise initialisation of the packed struct)",
    ),
)

# The MVU output-queue workaround for the SIMD == MW backpressure bug (TOOLCHAIN.md). It
# changes the hardware, so it is opt-in: by default we simulate the RTL Vivado would build.
MVU_QUEUE_EDITS: tuple[Edit, ...] = (
    Edit(
        "mvu/mvu_vvu_axi.sv",
        "\t\tlocalparam int unsigned  MAX_IN_FLIGHT = CORE_PIPELINE_DEPTH;",
        "\t\tlocalparam int unsigned  MAX_IN_FLIGHT = CORE_PIPELINE_DEPTH + 4;",
        "deeper MVU output queue: avoids lost outputs when SIMD == MW under backpressure",
    ),
)


def rtllib_root() -> Path:
    """The installed finn-rtllib folder (finn-plus ships it inside the package)."""
    import finn  # heavy; only when a plan is made

    root = Path(finn.__file__).resolve().parent / "finn-rtllib"
    if not root.is_dir():
        raise CodesignError(f"finn-rtllib not found at {root}: is finn-plus installed?")
    return root


def library_source(rel_path: str, mvu_queue_fix: bool = False) -> str:
    """Return the text of finn-rtllib file ``rel_path`` with the Verilator edits applied.

    Args:
        rel_path: Path relative to finn-rtllib, e.g. ``"mvu/add_multi.sv"``.
        mvu_queue_fix: Also apply the MVU output-queue workaround.

    Raises:
        CodesignError: An edit's anchor text is missing or ambiguous (finn-plus changed).
    """
    text = (rtllib_root() / rel_path).read_text()
    edits = VERILATOR_EDITS + (MVU_QUEUE_EDITS if mvu_queue_fix else ())
    for edit in edits:
        if edit.path != rel_path:
            continue
        count = text.count(edit.old)
        if count != 1:
            raise CodesignError(
                f"finn-rtllib/{rel_path}: the text a Verilator edit replaces occurs {count} "
                f"times, expected once ({edit.why}); finn-plus has changed, update "
                "codesign/sim/rtllib.py"
            )
        text = text.replace(edit.old, edit.new)
        log.debug("patched finn-rtllib/%s: %s", rel_path, edit.why)
    return text


def relative_to_rtllib(path: Path) -> str | None:
    """``path`` relative to finn-rtllib, or None when it lies outside the library."""
    try:
        return Path(path).resolve().relative_to(rtllib_root()).as_posix()
    except ValueError:
        return None


def library_twin(path: Path, root: Path | None = None) -> str | None:
    """The finn-rtllib file a node-local copy duplicates, as a path relative to finn-rtllib.

    Some finn-plus nodes copy library files into their own ``code_gen_dir`` (``Reshape_rtl``
    copies ``dwc/hdl/vpc.sv`` and ``dwc_axi.sv``) while others name the library's file
    (``StreamingDataWidthConverter_rtl``). Read together they define ``dwc_axi`` and ``vpc``
    twice. A copy whose bytes equal the library file of the same name in the folder FINN
    copied it from is that file, so sources are de-duplicated by it.

    Returns:
        ``path`` relative to finn-rtllib when it lies there already, or when it is a
        byte-identical copy of ``<finn-rtllib>/<folder>/<same name>``; else None.
    """
    root = (root or rtllib_root()).resolve()
    path = Path(path).resolve()
    if path.is_relative_to(root):
        return path.relative_to(root).as_posix()
    if path.suffix not in (".v", ".sv", ".vh", ".svh") or not path.is_file():
        return None
    data = path.read_bytes()
    for candidate in sorted(root.rglob(path.name)):
        if candidate.is_file() and candidate.read_bytes() == data:
            return candidate.relative_to(root).as_posix()
    return None
