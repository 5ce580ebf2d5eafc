"""The package's floors: imports (at module level and inside functions) only go down.

Every module of ``theory`` belongs to a floor (see docs/architecture.md); a module imports
only from lower floors, or from its own floor where that makes no cycle, and never from a
sibling marked independent (``results`` and ``engine``; ``derive``, ``validate``, ``plots``
and ``sweep``; ``api`` and ``cli``). No private name (``_x``) is imported or read across
modules. The test reads the source (``ast``), so an import hidden in a function counts.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "theory"

# floor -> groups of the floor; a group is a module or a package (its submodules with it);
# groups of a floor marked independent never import each other
FLOORS = (
    ("foundations", ("errors", "version", "io", "lazy", "symbols", "fastpoly", "speedups", "tidy", "numeric",
                     "notation", "derivation", "diskcache", "safe_parse", "progress", "stats"), False),
    ("declarations", ("family", "families", "regime", "operator", "twin", "setting"), False),
    ("computation", ("results", "engine"), True),
    ("services", ("store", "cases", "params", "parallel", "documents", "laws", "models"), False),
    ("applications", ("derive", "validate", "plots", "sweep", "claims"), True),
    ("front-ends", ("api", "cli", "__init__"), True),
    ("entry point", ("__main__",), False),
)
GROUP = {group: (level, name, independent) for level, (name, groups, independent) in enumerate(FLOORS)
         for group in groups}


def modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of the package (a package is its __init__)."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["theory", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__" and len(parts) > 2:
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


@functools.cache
def nodes(source: str, filename: str) -> tuple[ast.AST, ...]:
    """Every node of a module's syntax tree, parsed and walked once per process (the tests only
    read them): the tests below, and the copies of the package they plant an import in, share them."""
    return tuple(ast.walk(ast.parse(source, filename)))


def group_of(module: str) -> str:
    return "__init__" if module == "theory" else module.split(".")[1]


def imports(module: str, path: Path, known: dict) -> list[tuple[str, int, str | None]]:
    """(imported theory module, line, imported name) of every import in the file, at any depth.

    ``from .x import y`` imports module ``x.y`` if that is a module, else module ``x`` (for
    name ``y``); the parent packages Python loads on the way are not dependencies.
    """
    is_package = path.name == "__init__.py"
    here = module.split(".") if is_package else module.split(".")[:-1]
    out = []
    for node in nodes(path.read_text(), path.name):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno, None) for a in node.names if a.name.split(".")[0] == "theory"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base.split(".")[0] != "theory":
                continue
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.append((sub, node.lineno, None) if sub in known else (base, node.lineno, a.name))
    return [(m, line, name) for m, line, name in out if m != module]


def graph() -> tuple[dict[str, set[str]], list[str], list[str]]:
    """(edges, floor violations, private names crossing modules)."""
    known = modules()
    edges: dict[str, set[str]] = {m: set() for m in known}
    upward, private = [], []
    for module, path in sorted(known.items()):
        level, floor, _ = GROUP[group_of(module)]
        aliases = {}
        for target, line, name in imports(module, path, known):
            edges[module].add(target)
            where = f"{path.relative_to(PACKAGE.parent)}:{line}"
            t_level, t_floor, independent = GROUP[group_of(target)]
            if t_level > level:
                upward.append(f"{where}: {module} ({floor}) imports {target} ({t_floor})")
            elif t_level == level and independent and group_of(target) != group_of(module):
                upward.append(f"{where}: {module} imports its independent sibling {target}")
            if name is not None and name.startswith("_") and not name.startswith("__"):
                private.append(f"{where}: {module} imports {target}.{name}")
        tree = nodes(path.read_text(), path.name)
        for node in tree:  # `from . import numeric` ... `numeric._compiled`
            if isinstance(node, ast.ImportFrom) and node.level:
                aliases |= {a.asname or a.name: a.name for a in node.names}
        for node in tree:
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and any(m.endswith("." + aliases[node.value.id]) for m in known)):
                private.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {module} reads "
                               f"{node.value.id}.{node.attr}")
    return edges, upward, private


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_every_module_has_a_floor():
    missing = sorted({group_of(m) for m in modules()} - set(GROUP))
    assert not missing, f"modules with no floor in FLOORS (tests/test_layers.py): {missing}"


def test_imports_only_go_down_the_floors():
    _, upward, _ = graph()
    assert not upward, "imports up the floors:\n" + "\n".join(upward)


def test_no_import_cycles():
    found = cycles(graph()[0])
    assert not found, f"import cycles: {found}"


def test_no_private_name_crosses_modules():
    _, _, private = graph()
    assert not private, "private names used across modules:\n" + "\n".join(private)


@pytest.mark.parametrize("line, broken", [
    ("from ..store import derivation", "imports up the floors"),   # computation -> services
    ("from .. import cli", "imports up the floors"),              # computation -> front-ends
    ("from ..engine.model import NumericFamily", "sibling"),      # results -> engine
])
def test_the_check_catches_an_upward_import(tmp_path, monkeypatch, line, broken):
    """A deliberate upward import in a copy of the package makes the check fail."""
    import shutil

    copy = tmp_path / "theory"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / "results" / "martingale.py"
    target.write_text(target.read_text() + f"\n\ndef _planted():\n    {line}\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", copy)
    _, upward, _ = graph()
    assert any(broken in u or "imports" in u and "martingale" in u for u in upward), upward
    assert any("results/martingale.py" in u for u in upward)
