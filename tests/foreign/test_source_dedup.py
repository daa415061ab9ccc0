"""Sources that several nodes ship (finn-rtllib copies, equal modules) are read once."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesign.errors import CodesignError
from codesign.sim.rtllib import library_twin, rtllib_root
from codesign.synth.sources import NodeRTL, stage_sources


def test_a_node_local_copy_of_a_library_file_is_that_file(tmp_path: Path) -> None:
    lib = rtllib_root() / "dwc" / "hdl" / "vpc.sv"
    copy = tmp_path / "vpc.sv"
    copy.write_bytes(lib.read_bytes())
    assert library_twin(lib) == "dwc/hdl/vpc.sv"
    assert library_twin(copy) == "dwc/hdl/vpc.sv"
    copy.write_bytes(lib.read_bytes() + b"\n// edited\n")
    assert library_twin(copy) is None


def _node(tmp_path: Path, name: str, text: str) -> NodeRTL:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "shared.sv").write_text(text)
    (folder / f"{name}.v").write_text(f"module {name}(input x);\nendmodule\n")
    return NodeRTL(
        name=name,
        op_type="Reshape_rtl",
        top=name,
        kind="plain",
        code_gen_dir=folder,
        lib_files=(),
        node_files=(folder / "shared.sv", folder / f"{name}.v"),
        in_width=8,
        out_width=8,
    )


def test_equal_modules_from_two_nodes_are_staged_once(tmp_path: Path) -> None:
    text = "module shared(input a);\nendmodule\n"
    files, hdl = stage_sources([_node(tmp_path, "a", text), _node(tmp_path, "b", text)])
    assert hdl == ["nodes/a/shared.sv", "nodes/a/a.v", "nodes/b/b.v"]
    assert "nodes/b/shared.sv" not in files


def test_conflicting_modules_are_an_error(tmp_path: Path) -> None:
    first = _node(tmp_path, "a", "module shared(input a);\nendmodule\n")
    second = _node(tmp_path, "b", "module shared(input a, input b);\nendmodule\n")
    with pytest.raises(CodesignError, match="module shared is defined by both"):
        stage_sources([first, second])
