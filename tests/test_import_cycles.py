"""No module of codesign imports another that imports it back, directly or through functions.

The imports are read with ``ast`` from the source, at module level and inside functions
(a lazy import still ties two modules together); imports under ``if TYPE_CHECKING:`` are
left out, as they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "codesign"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    out: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(sub)
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                out.append(child)
            visit(child)

    visit(tree)
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the codesign modules it imports (``from pkg import sub`` -> ``pkg.sub``)."""
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_pkg = path.name == "__init__.py"
        deps: set[str] = set()
        for node in runtime_imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = name.split(".")[: len(name.split(".")) - node.level + is_pkg]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names
                ]
            deps.update(t for t in targets if t in files and t != name)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return out


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_relative_and_package_imports_resolve(tmp_path: Path) -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "import codesign.errors\n"
        "if TYPE_CHECKING:\n    from codesign.flow import runner\n"
        "def f():\n    from codesign.flow import core\n"
    )
    names = [
        getattr(n, "module", None) or n.names[0].name for n in runtime_imports(tree)
    ]  # the TYPE_CHECKING import is left out, the lazy one is kept
    assert names == ["typing", "codesign.errors", "codesign.flow"]
    graph = import_graph()
    assert "codesign.flow.core" in graph["codesign.flow.runner"]
    assert "codesign.models.checkpoint" in graph["codesign.finn.inputs"]  # a lazy import


def test_no_import_cycles_in_codesign() -> None:
    found = cycles(import_graph())
    assert found == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_flow_core_imports_nothing_else_from_flow() -> None:
    graph = import_graph()
    assert not {d for d in graph["codesign.flow.core"] if d.startswith("codesign.flow")}


# The faces (cli/, bench/) and the layer above one flow (sweep/, LAYOUT.md) may pick steps
# from the registry. The search gets its winners' hardware injected (flow/from_model.py with
# the registry the CLI passes), so it imports no steps.
_REGISTRY_USERS = ("codesign.cli.", "codesign.bench.", "codesign.sweep.")
_KNOWN_EXCEPTIONS: set[str] = set()


def test_only_the_cli_imports_the_step_registry() -> None:
    graph = import_graph()
    users = sorted(m for m, deps in graph.items() if "codesign.flow.steps" in deps)
    others = [m for m in users if not m.startswith(_REGISTRY_USERS)]
    assert set(others) <= _KNOWN_EXCEPTIONS, others


def test_the_hardware_side_imports_no_training_code() -> None:
    graph = import_graph()
    hardware = ("codesign.finn", "codesign.sim", "codesign.synth", "codesign.build")
    bad = {
        m: sorted(d for d in deps if d.startswith("codesign.train"))
        for m, deps in graph.items()
        if m.startswith(hardware)
    }
    assert not {m: d for m, d in bad.items() if d}, bad
