"""The package's shape: no import cycles, small modules, a leaf language-model package.

Imports are read with :mod:`ast` (nothing is imported), including imports inside functions, so a
cycle hidden behind a lazy import still counts; only ``if TYPE_CHECKING:`` blocks are ignored.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "kgllm"
MAX_LINES = 450


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of the package that ``name`` imports (``from a import b`` counts ``a.b`` when it is a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            submodules = {f"{module}.{alias.name}" for alias in node.names}
            found.update(submodules)
            if not submodules <= known:        # ``from pkg import sub`` alone needs only ``sub``
                found.add(module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in found if m in known and m != name}


def import_graph() -> nx.DiGraph:
    modules = _modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        for target in _imports(name, path, set(modules)):
            graph.add_edge(name, target)
    # Importing ``a.b.c`` runs the ``__init__`` of ``a`` and ``a.b`` first; those are edges too, except from a
    # package's own submodules to the package (Python has already started importing it).
    for name in list(graph):
        for target in list(graph.successors(name)):
            parts = target.split(".")
            for i in range(1, len(parts)):
                parent = ".".join(parts[:i])
                if parent in modules and not name.startswith(parent + ".") and parent != name:
                    graph.add_edge(name, parent)
    return graph


def test_import_graph_sees_real_edges():
    graph = import_graph()
    assert graph.has_edge("kgllm.graph", "kgllm.stores.base") or graph.has_edge("kgllm.graph", "kgllm.stores")
    assert graph.has_edge("kgllm.lm.local", "kgllm.errors")


def test_no_import_cycles():
    graph = import_graph()
    cycles = [c for c in nx.simple_cycles(graph) if len(c) > 1]
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c + [c[0]]) for c in cycles[:5])


def test_language_models_are_a_leaf_package():
    """``kgllm.lm`` serves the reasoner and the extractor, so it must import nothing above it."""
    allowed = ("kgllm.lm", "kgllm.errors", "kgllm.engine", "kgllm.resources", "kgllm.progress")
    graph = import_graph()
    above = sorted({(m, t) for m in graph if m == "kgllm.lm" or m.startswith("kgllm.lm.")
                    for t in nx.descendants(graph, m) if not t.startswith(allowed) and t != "kgllm"})
    assert above == []


@pytest.mark.parametrize("name", sorted(_modules()))
def test_module_is_small(name: str):
    lines = _modules()[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines; split it by concern (limit {MAX_LINES})"
