"""The tree's architecture, checked: layers import only downwards, and no import circle anywhere.

Layers, top to bottom: the command line (``cribside.cli``, ``cribside.commands``,
``cribside.bench``) -> ``cribside.convert`` -> ``cribside.training`` -> ``cribside.edge``.
The device (edge) never imports training, convert or the command line; a library never
imports a command module. Every import counts, also those inside functions (lazy imports
still tie modules together).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"cribside": ROOT / "cribside", "cribside.edge": ROOT / "edge", "cribside.training": ROOT / "training",
            "cribside.convert": ROOT / "convert"}
COMMAND_LAYER = ("cribside.cli", "cribside.commands", "cribside.bench", "cribside.__main__")


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("").parts
            name = ".".join((package, *rel)).removesuffix(".__init__")
            found[name] = path
    return found


MODULES = modules()


def imports_of(name: str, path: Path) -> set[str]:
    """Project modules that ``name`` imports (``from a.b import c`` counts ``a.b.c`` when that is a module)."""
    out = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = name if is_package else name.rsplit(".", 1)[0]
                for _ in range(node.level - 1):
                    parent = parent.rsplit(".", 1)[0]
                base = f"{parent}.{base}" if base else parent
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


GRAPH = {name: imports_of(name, path) for name, path in MODULES.items()}


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        (("cribside.edge",), ("cribside.training", "cribside.convert", *COMMAND_LAYER)),
        (("cribside.training",), ("cribside.convert", *COMMAND_LAYER)),
        (("cribside.convert",), COMMAND_LAYER),
    ],
)
def test_layers_import_only_downwards(layer, forbidden):
    wrong = sorted(f"{m} -> {t}" for m, targets in GRAPH.items() if within(m, layer) for t in targets
                   if within(t, forbidden))
    assert wrong == []


def test_edge_never_imports_the_top_package():
    wrong = sorted(m for m, targets in GRAPH.items() if within(m, ("cribside.edge",)) and "cribside" in targets)
    assert wrong == []


def test_no_import_circle_anywhere():
    """Tarjan's strongly connected components over the whole project: every component is one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert circles == []
