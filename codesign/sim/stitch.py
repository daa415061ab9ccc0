"""Stitching a compiled dataflow graph into one Verilator build plan.

:func:`read_design` turns ``RUN/compiled.onnx`` into a :class:`Design`: the chain of RTL
nodes with their stream widths, HDL files, data files and the ports to tie off.
:func:`make_plan` renders the stitched top and the harness from the Jinja2 templates in
``codesign/hls/sim/`` and returns a :class:`BuildPlan`: every file the build needs (RTL sources,
finn-rtllib copies with the Verilator edits, ``.dat`` memories) as name -> content, plus
the command. Nothing is written here; :mod:`codesign.sim.verilator` runs the plan, and the
plan's digest is the cache key.

Two things FINN's own file lists leave out are handled here (shared/TOOLCHAIN.md):

- the MVAU weight memory (``<node>_memstream_wrapper.v``, ``memblock.dat`` and the memstream
  sources), which Vivado wires by Tcl, is instantiated in the top;
- Thresholding's relative ``THRESHOLDS_PATH`` and the memstream's absolute ``INIT_FILE`` are
  overridden with paths inside the build folder, where the simulation runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from codesign.errors import CodesignError, UnsupportedModelError
from codesign.finn.support import SUPPORTED, Wiring
from codesign.sim.rtllib import library_source, library_twin, rtllib_root

log = logging.getLogger(__name__)

TEMPLATE_PACKAGE = ("codesign", "hls/sim")  # package data, found by jinja2.PackageLoader
TOP_MODULE = "codesign_dataflow"
HARNESS_MODULE = "codesign_harness"
DATA_DIR = "data"
RTL_DIR = "rtl"

# Node types the stitcher knows how to wire: codesign.finn.support's table.
SUPPORTED_OPS = tuple(SUPPORTED)
_STREAM_PORTS = {
    "in0_V_TDATA",
    "in0_V_TVALID",
    "in0_V_TREADY",
    "out0_V_TDATA",
    "out0_V_TVALID",
    "out0_V_TREADY",
    "ap_clk",
    "ap_clk2x",
    "ap_rst_n",
}
_WEIGHT_PORTS = {"in1_V_TDATA", "in1_V_TVALID", "in1_V_TREADY"}
_PORT_RE = re.compile(
    r"^\s*(input|output)\s+(?:wire\s+|logic\s+|reg\s+)?(?:signed\s+)?(?:\[[^\]]*\]\s*)?(\w+)",
    re.MULTILINE,
)


@dataclass(frozen=True)
class StitchNode:
    """One dataflow node as the top instantiates it.

    Attributes:
        name: ONNX node name.
        op_type: FINN op type, e.g. ``MVAU_rtl``.
        module: Verilog module to instantiate (FINN's generated wrapper, or ``fifo``).
        in_width: Padded input stream width in bits.
        out_width: Padded output stream width in bits.
        params: Parameter overrides, name -> SystemVerilog literal.
        tie_off: Input ports tied to zero (AXI-lite, unused streams).
        has_clk2x: The module has an ``ap_clk2x`` port.
        weight_width: Padded weight stream width (MVAU with a memstream), else 0.
        memstream_module: The MVAU's weight-memory wrapper module, else "".
        memstream_params: Parameter overrides for the memstream wrapper.
        memstream_tie_off: Input ports of the memstream wrapper tied to zero.
        fifo_depth: Depth of a StreamingFIFO, else 0.
        fifo_ram_style: RAM_STYLE of a StreamingFIFO (fifo.sv's spelling).
    """

    name: str
    op_type: str
    module: str
    in_width: int
    out_width: int
    params: dict[str, str] = field(default_factory=dict)
    tie_off: tuple[str, ...] = ()
    has_clk2x: bool = False
    weight_width: int = 0
    memstream_module: str = ""
    memstream_params: dict[str, str] = field(default_factory=dict)
    memstream_tie_off: tuple[str, ...] = ()
    fifo_depth: int = 0
    fifo_ram_style: str = "auto"

    @property
    def is_fifo(self) -> bool:
        """True for StreamingFIFO nodes."""
        return self.op_type.startswith("StreamingFIFO")


@dataclass(frozen=True)
class Design:
    """A linear dataflow chain, ready to stitch.

    Attributes:
        nodes: The nodes in stream order.
        sources: Build-folder path -> text of every HDL source (packages first).
        data: Build-folder path -> text of every memory initialisation file.
    """

    nodes: tuple[StitchNode, ...]
    sources: dict[str, str]
    data: dict[str, str]

    @property
    def in_width(self) -> int:
        """Width of the design's input stream."""
        return self.nodes[0].in_width

    @property
    def out_width(self) -> int:
        """Width of the design's output stream."""
        return self.nodes[-1].out_width

    def fifo_names(self) -> list[str]:
        """Names of the StreamingFIFO nodes, in stream order."""
        return [n.name for n in self.nodes if n.is_fifo]


@dataclass(frozen=True)
class BuildPlan:
    """Everything a Verilator build needs, in memory.

    Attributes:
        files: Path relative to the build folder -> file content.
        command: The Verilator command, run in the build folder (tool name first).
        executable: Path of the built simulator, relative to the build folder.
        tool_version: The Verilator version the plan is for (part of the digest).
        streams: Stream names in order (``s0`` = design input ... ``sN`` = output) with the
            node that produces each (``"input"`` for ``s0``).
        fifos: FIFO node names with their depths in this build.
        trace: Waveform format the build can record when asked at run time: ``"fst"``,
            ``"vcd"`` or ``""`` (none).
    """

    files: dict[str, str]
    command: tuple[str, ...]
    executable: str
    tool_version: str
    streams: tuple[tuple[str, str], ...]
    fifos: tuple[tuple[str, int], ...]
    trace: str

    def digest(self) -> str:
        """SHA-256 over files, command and tool version: the build cache key."""
        h = hashlib.sha256()
        h.update(
            json.dumps([self.command, self.executable, self.tool_version, self.trace]).encode()
        )
        for name in sorted(self.files):
            h.update(name.encode() + b"\0")
            h.update(hashlib.sha256(self.files[name].encode()).digest())
        return h.hexdigest()


def _ports(text: str, module: str) -> tuple[list[str], list[str]]:
    """Input and output port names of ``module`` defined in ``text``."""
    m = re.search(rf"\bmodule\s+{re.escape(module)}\b(.*?)\bendmodule\b", text, re.DOTALL)
    if m is None:
        raise CodesignError(f"module {module} not found in its generated wrapper")
    body = re.sub(r"//[^\n]*", "", m.group(1))
    inputs, outputs = [], []
    for direction, name in _PORT_RE.findall(body):
        (inputs if direction == "input" else outputs).append(name)
    return inputs, outputs


def _find_module_file(files: list[Path], module: str) -> Path:
    pattern = re.compile(rf"\bmodule\s+{re.escape(module)}\b")
    for f in files:
        if f.suffix in (".v", ".sv") and pattern.search(f.read_text(errors="replace")):
            return f
    raise CodesignError(f"no HDL file defines module {module}; was PrepareIP run?")


def _sv_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def read_design(
    model_path: Path, fifo_depths: dict[str, int] | None = None, mvu_queue_fix: bool = False
) -> Design:
    """Read a compiled FINN dataflow model into a :class:`Design`.

    Args:
        model_path: ``RUN/compiled.onnx`` (after PrepareIP; ``code_gen_dir_ipgen`` set).
        fifo_depths: Override the depth of these StreamingFIFO nodes (name -> depth).
        mvu_queue_fix: Apply the MVU output-queue workaround (see :mod:`.rtllib`).

    Raises:
        UnsupportedModelError: A node is not one of :data:`SUPPORTED_OPS`, or the graph is
            not a single chain.
        CodesignError: Generated RTL is missing.
    """
    from qonnx.core.modelwrapper import ModelWrapper

    from codesign.finn.context import finn_build_dir
    from codesign.finn.lut_mvau import register

    register()  # MVAU_rtl with resType=lut is codesign's LUT kernel
    model_path = Path(model_path)
    model = ModelWrapper(str(model_path))
    # FINN's file lists need its settings; point them at the run's own build folder.
    with finn_build_dir(model_path.parent / "finn_build"):
        return _read_design(model, model_path, fifo_depths, mvu_queue_fix)


def _read_design(
    model: object, model_path: Path, fifo_depths: dict[str, int] | None, mvu_queue_fix: bool
) -> Design:
    from qonnx.custom_op.registry import getCustomOp

    graph_nodes = list(model.graph.node)
    if not graph_nodes:
        raise UnsupportedModelError(f"{model_path}: the dataflow graph has no nodes")
    fifo_depths = dict(fifo_depths or {})
    unknown = set(fifo_depths) - {
        n.name for n in graph_nodes if n.op_type.startswith("StreamingFIFO")
    }
    if unknown:
        raise CodesignError(f"no StreamingFIFO named {', '.join(sorted(unknown))} in {model_path}")
    lib_root = rtllib_root()
    sources: dict[str, str] = {}
    origin: dict[str, str] = {}
    data: dict[str, str] = {}

    def add_source(path: Path) -> None:
        # A node-local copy of a finn-rtllib file (Reshape_rtl's vpc.sv, dwc_axi.sv) is that
        # file: one definition per module, whichever node names it.
        rel = library_twin(path, lib_root)
        if rel:
            path = lib_root / rel
        name = f"{RTL_DIR}/{path.name}"
        key = rel or str(path.resolve())
        if name in origin:
            if origin[name] != key:
                raise CodesignError(
                    f"two HDL files share the name {path.name}: {origin[name]} and {key}"
                )
            return
        origin[name] = key
        if rel:
            sources[name] = library_source(rel, mvu_queue_fix)
        else:
            # Generated wrappers embed their own folder (the memstream's default INIT_FILE);
            # the top overrides those parameters, and dropping the folder keeps the plan
            # digest independent of where the run folder lives.
            text = path.read_text()
            for folder in {str(path.parent), str(path.parent.resolve())}:
                text = text.replace(folder + "/", "")
            sources[name] = text

    nodes: list[StitchNode] = []
    prev_out = model.graph.input[0].name
    for node in graph_nodes:
        support = SUPPORTED.get(node.op_type)
        if support is None:
            raise UnsupportedModelError(
                f"node {node.name} ({node.op_type}) cannot be simulated: the Verilator flow "
                f"supports {', '.join(SUPPORTED_OPS)}"
            )
        if node.input[0] != prev_out:
            raise UnsupportedModelError(
                f"node {node.name} does not continue a single chain; "
                "branching dataflow graphs are not supported"
            )
        prev_out = node.output[0]
        inst = getCustomOp(node)
        in_w = int(inst.get_instream_width_padded(0))
        out_w = int(inst.get_outstream_width_padded(0))
        if support.wiring is Wiring.FIFO:
            depth = int(fifo_depths.get(node.name, inst.get_nodeattr("depth")))
            if depth < 2:
                raise CodesignError(f"FIFO {node.name}: depth {depth} < 2 cannot be built")
            style = inst.get_nodeattr("ram_style")
            add_source(lib_root / "fifo/hdl/fifo.sv")
            nodes.append(
                StitchNode(
                    node.name,
                    node.op_type,
                    "fifo",
                    in_w,
                    out_w,
                    fifo_depth=depth,
                    fifo_ram_style="shift" if style == "srl" else style,
                )
            )
            continue
        code_dir = Path(inst.get_nodeattr("code_gen_dir_ipgen") or "")
        if not code_dir.is_dir():
            raise CodesignError(
                f"node {node.name}: generated RTL folder {code_dir} is missing; "
                "run the compile (PrepareIP) first"
            )
        files = [Path(f) for f in inst.get_rtl_file_list(abspath=True)]
        top = inst.get_nodeattr("gen_top_module") or inst.get_verilog_top_module_name()
        wrapper = _find_module_file(files, top)
        inputs, _ = _ports(wrapper.read_text(), top)
        params: dict[str, str] = {}
        extra: dict[str, object] = {}
        handled = set(_STREAM_PORTS)
        if support.wiring is Wiring.THRESHOLDING:
            dats = sorted(p for g in support.data_globs for p in code_dir.glob(g.format(top=top)))
            if not dats:
                raise CodesignError(f"node {node.name}: no threshold .dat files in {code_dir}")
            for dat in dats:
                data[f"{DATA_DIR}/{dat.name}"] = dat.read_text()
            params["THRESHOLDS_PATH"] = _sv_string(f"{DATA_DIR}/{top}_")
        if support.wiring is Wiring.MVAU:
            mem_mode = inst.get_nodeattr("mem_mode")
            if mem_mode not in support.mem_modes:
                raise UnsupportedModelError(
                    f"node {node.name}: MVAU_rtl mem_mode {mem_mode} is "
                    "not supported (only internal_decoupled)"
                )
            ms_module = f"{top}_memstream_wrapper"
            ms_file = code_dir / f"{ms_module}.v"
            memblock = code_dir / "memblock.dat"
            if not ms_file.is_file() or not memblock.is_file():
                raise CodesignError(
                    f"node {node.name}: {ms_file.name} or memblock.dat missing in {code_dir}"
                )
            for rel in support.extra_rtllib:
                add_source(lib_root / rel)
            add_source(ms_file)
            data[f"{DATA_DIR}/{top}_memblock.dat"] = memblock.read_text()
            ms_inputs, _ = _ports(ms_file.read_text(), ms_module)
            extra = {
                "weight_width": int(inst.get_instream_width_padded(1)),
                "memstream_module": ms_module,
                "memstream_params": {"INIT_FILE": _sv_string(f"{DATA_DIR}/{top}_memblock.dat")},
                "memstream_tie_off": tuple(
                    p
                    for p in ms_inputs
                    if p not in {"ap_clk", "ap_clk2x", "ap_rst_n", "m_axis_0_tready"}
                ),
            }
            handled |= _WEIGHT_PORTS
        for f in files:
            add_source(f)
        nodes.append(
            StitchNode(
                node.name,
                node.op_type,
                top,
                in_w,
                out_w,
                params=params,
                tie_off=tuple(p for p in inputs if p not in handled),
                has_clk2x="ap_clk2x" in inputs,
                **extra,
            )
        )  # type: ignore[arg-type]
    for a, b in zip(nodes, nodes[1:], strict=False):
        if a.out_width != b.in_width:
            raise CodesignError(
                f"stream width mismatch: {a.name} writes {a.out_width} bits, "
                f"{b.name} reads {b.in_width}"
            )
    # SystemVerilog packages must be compiled before their users.
    ordered = dict(sorted(sources.items(), key=lambda kv: (not kv[0].endswith("_pkg.sv"),)))
    return Design(tuple(nodes), ordered, data)


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader(*TEMPLATE_PACKAGE),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def make_plan(design: Design, tool_version: str, trace: str = "", jobs: int = 2) -> BuildPlan:
    """Render the stitched top and harness; return the build plan for ``design``.

    Args:
        design: From :func:`read_design`.
        tool_version: ``verilator --version`` output (recorded in the digest).
        trace: ``"fst"`` (``--trace-fst``, needs lz4 and zlib headers) or ``"vcd"``
            (``--trace``) to build with waveform dumping; ``""`` for none.
        jobs: Parallel jobs for Verilator and the C++ compile.
    """
    if trace not in ("", "fst", "vcd"):
        raise ValueError(f"trace must be 'fst', 'vcd' or '', got {trace!r}")
    env = _env()
    streams = [("s0", "input")] + [(f"s{k + 1}", n.name) for k, n in enumerate(design.nodes)]
    top = env.get_template("dataflow_top.sv.j2").render(
        module=TOP_MODULE, nodes=design.nodes, in_width=design.in_width, out_width=design.out_width
    )
    harness = env.get_template("harness.sv.j2").render(
        module=HARNESS_MODULE,
        top=TOP_MODULE,
        nodes=design.nodes,
        streams=streams,
        in_width=design.in_width,
        out_width=design.out_width,
        trace=bool(trace),
    )
    files = dict(design.sources)
    files[f"{RTL_DIR}/{TOP_MODULE}.sv"] = top
    files[f"{RTL_DIR}/{HARNESS_MODULE}.sv"] = harness
    files.update(design.data)
    sources = [*design.sources, f"{RTL_DIR}/{TOP_MODULE}.sv", f"{RTL_DIR}/{HARNESS_MODULE}.sv"]
    files["sources.f"] = "".join(f"{s}\n" for s in sources)
    command = (
        "verilator",
        "--binary",
        "--timing",
        "-O3",
        "-j",
        str(jobs),
        "--build-jobs",
        str(jobs),
        "-MAKEFLAGS",
        "CFG_CXXFLAGS_PCH_I=-include",
        "-Wno-fatal",
        "-Wno-lint",
        "-Wno-style",
        "-Wno-MULTIDRIVEN",
        "-Wno-TIMESCALEMOD",
        *({"fst": ("--trace-fst",), "vcd": ("--trace",), "": ()}[trace]),
        "--top-module",
        HARNESS_MODULE,
        "-Mdir",
        "obj",
        "-f",
        "sources.f",
    )
    fifos = tuple((n.name, n.fifo_depth) for n in design.nodes if n.is_fifo)
    return BuildPlan(
        files, command, f"obj/V{HARNESS_MODULE}", tool_version, tuple(streams), fifos, trace
    )
