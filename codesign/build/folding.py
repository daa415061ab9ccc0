"""The folding and FIFO configs a build hands to finn-plus, checked against the design.

``RUN/folding_config.json`` is a FINN folding config (``ApplyConfig`` format: node name ->
attribute -> value, plus an optional empty ``"Defaults"``) holding the folding of every node
and the FIFO depths sized in Verilator. The build re-applies it with FINN's own
``step_apply_folding_config``, so it must describe *this* compiled design exactly: every
node it names exists, every attribute it sets exists on that node, and every attribute other
than a FIFO's depth (and the derived ``inFIFODepths``/``outFIFODepths``) equals the compiled
model's value. A config that would re-fold the design is refused: changing PE/SIMD after
the data-width converters and FIFOs were inserted would break the stream widths.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codesign.errors import ConfigError

if TYPE_CHECKING:
    from qonnx.core.modelwrapper import ModelWrapper

log = logging.getLogger(__name__)

#: The attributes finn-plus's step_apply_folding_config extracts (finn-plus 1.6.1).
FOLDING_ATTRS: tuple[str, ...] = (
    "PE",
    "SIMD",
    "EmbFold",
    "SeqFold",
    "parallel_window",
    "ram_style",
    "ram_style_thresholds",
    "ram_style_mask",
    "depth",
    "impl_style",
    "resType",
    "mac_resource",
    "mem_mode",
    "runtime_writeable_weights",
    "depth_trigger_uram",
    "depth_trigger_bram",
)

#: Attributes that may differ from the compiled model: FIFO sizing changes exactly these.
_FIFO_SIZED = frozenset({"depth", "ram_style"})
_DERIVED = frozenset({"inFIFODepths", "outFIFODepths"})

#: Node attributes holding paths of code generated on the compile machine.
CODEGEN_ATTRS: tuple[str, ...] = (
    "code_gen_dir_ipgen",
    "ipgen_path",
    "ip_path",
    "ip_vlnv",
    "code_gen_dir_cppsim",
    "executable_path",
    "rtlsim_so",
)

_FIFO_OP = "StreamingFIFO_rtl"


def extract_folding_config(model: ModelWrapper) -> dict[str, dict[str, Any]]:
    """The folding config of ``model`` as finn-plus writes it (``extract_model_config``)."""
    from finn.util.config import extract_model_config

    cfg = extract_model_config(model, subgraph_hier=None, attr_names_to_extract=FOLDING_ATTRS)
    return {name: {k: _plain(v) for k, v in attrs.items()} for name, attrs in cfg.items()}


def load_folding_config(path: Path) -> dict[str, dict[str, Any]]:
    """Read a folding config JSON file.

    Raises:
        ConfigError: The file is missing, not JSON, or not a mapping of node -> attributes.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as err:
        raise ConfigError(f"cannot read folding config {path}: {err.strerror}") from err
    except json.JSONDecodeError as err:
        raise ConfigError(f"folding config {path} is not valid JSON: {err}") from err
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ConfigError(f"folding config {path} must map node names to attribute mappings")
    return data


def check_folding_config(
    model: ModelWrapper, config: dict[str, dict[str, Any]], source: str = "folding_config.json"
) -> dict[str, int]:
    """Check that ``config`` describes ``model`` and return the FIFO depths it sets.

    Args:
        model: The compiled dataflow model.
        config: A folding config (node -> attribute -> value).
        source: How to name the config in messages.

    Returns:
        FIFO node name -> depth, for every ``StreamingFIFO_rtl`` of the model.

    Raises:
        ConfigError: One message listing every problem: unknown nodes or attributes, a
            folding attribute that differs from the compiled model (the design would have to
            be recompiled), ``"Defaults"`` that are not empty, a FIFO without a depth, or a
            depth below 2.
    """
    from qonnx.custom_op.registry import getCustomOp

    nodes = {n.name: n for n in model.graph.node}
    problems: list[str] = []
    if config.get("Defaults"):
        problems.append("its 'Defaults' are not empty (they would re-fold whole op types)")
    depths: dict[str, int] = {}
    for name, attrs in config.items():
        if name == "Defaults":
            continue
        node = nodes.get(name)
        if node is None:
            problems.append(f"node {name} is not in the compiled model")
            continue
        inst = getCustomOp(node)
        known = inst.get_nodeattr_types()
        for attr, value in attrs.items():
            if attr not in known:
                problems.append(f"{name} ({node.op_type}) has no attribute {attr!r}")
                continue
            if attr in _DERIVED:
                continue
            if node.op_type == _FIFO_OP and attr in _FIFO_SIZED:
                if attr == "depth":
                    if not isinstance(value, int) or isinstance(value, bool) or value < 2:
                        problems.append(
                            f"{name}.depth = {value!r}: a FIFO depth is an integer >= 2"
                        )
                    else:
                        depths[name] = value
                continue
            current = _plain(inst.get_nodeattr(attr))
            if current != value:
                problems.append(f"{name}.{attr} = {value!r} but the compiled model has {current!r}")
    for name, node in nodes.items():
        if node.op_type == _FIFO_OP and name not in depths and not _mentions_depth(config, name):
            problems.append(f"FIFO {name} has no depth")
    if problems:
        raise ConfigError(
            f"{source} does not match the compiled design: "
            + "; ".join(problems)
            + " (recompile, then size the FIFOs again with "
            "`codesign simulate RUN --size-fifos`)"
        )
    return depths


def fifo_config(model: ModelWrapper, depths: dict[str, int]) -> dict[str, Any]:
    """FINN's FIFO config (the ``fifo_sizing.json`` format ``ApplyFIFODepthsFromFile`` reads).

    Args:
        model: The compiled dataflow model (for stream widths and styles).
        depths: FIFO node name -> depth, covering every ``StreamingFIFO_rtl``.

    Returns:
        ``{"fifo_depths", "fifo_sizes", "impl_style", "ram_style", "total_fifo_size_kiB"}``.
    """
    from qonnx.custom_op.registry import getCustomOp

    out: dict[str, Any] = {"fifo_depths": {}, "fifo_sizes": {}, "impl_style": {}, "ram_style": {}}
    total_bits = 0
    for node in model.get_nodes_by_op_type(_FIFO_OP):
        inst = getCustomOp(node)
        depth = int(depths[node.name])
        bits = int(inst.get_instream_width()) * depth
        out["fifo_depths"][node.name] = depth
        out["fifo_sizes"][node.name] = bits
        out["impl_style"][node.name] = inst.get_nodeattr("impl_style")
        out["ram_style"][node.name] = inst.get_nodeattr("ram_style")
        total_bits += bits
    out["total_fifo_size_kiB"] = total_bits / 8.0 / 1024.0
    return out


def apply_fifo_config(model: ModelWrapper, fifo_config_path: Path) -> ModelWrapper:
    """Set the FIFO depths with finn-plus's own ``ApplyFIFODepthsFromFile``.

    The same transformation runs again inside the builder's ``step_set_fifo_depths``; applied
    here first, the FIFO RTL is generated at its final depth and the builder's pass finds
    nothing to change.
    """
    from finn.transformation.fpgadataflow.set_fifo_depths import ApplyFIFODepthsFromFile

    return model.transform(ApplyFIFODepthsFromFile(Path(fifo_config_path)))


def clear_codegen_paths(model: ModelWrapper) -> ModelWrapper:
    """Forget where the compile machine generated code, so the builder regenerates it.

    PrepareIP skips a node whose ``code_gen_dir_ipgen`` exists; a stale folder (e.g. a FIFO
    generated at its old depth, or a path from another machine) must not be reused.
    """
    from qonnx.custom_op.registry import getCustomOp

    for node in model.graph.node:
        inst = getCustomOp(node)
        known = inst.get_nodeattr_types()
        for attr in CODEGEN_ATTRS:
            if attr in known:
                inst.set_nodeattr(attr, "")
    return model


def _mentions_depth(config: dict[str, dict[str, Any]], name: str) -> bool:
    return "depth" in config.get(name, {})


def _plain(value: Any) -> Any:  # noqa: ANN401 - node attribute values are int/float/str/list
    """Node attribute values as JSON gives them back (lists, not arrays; str, not bytes)."""
    if isinstance(value, bytes):
        return value.decode()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    return value
