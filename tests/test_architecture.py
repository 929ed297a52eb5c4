"""The package's shape, read from its source (issue 16): imports run one way.

Every ``import`` and ``from ... import`` counts, at module level or inside a
function or an ``if TYPE_CHECKING:`` block: a cycle dodged by a late import is
still a cycle. The layers are read from the README's "Architecture" list, so the README
cannot drift from the code.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from pathlib import Path

import pytest
from helpers import ROOT

PACKAGE = ROOT / "simulator"
MAX_LINES = 600
ANYWHERE = {"simulator.folders.atomic"}
"""The one atomic write, a leaf (it imports only errors): every writer uses it,
the classifier's model files too (the README says so)."""


def readme_layers(text: str) -> list[list[str]]:
    """The layers of the README's "Architecture" list, lowest first: the names
    that open each numbered line (```config`, `errors`, ...: what they do``)."""
    section = text.split("\n## Architecture\n", 1)[1].split("\n## ", 1)[0]
    lines = re.findall(r"^\d+\. ((?:`[\w.]+`(?:, )?)+):", section, flags=re.M)
    return [re.findall(r"`([\w.]+)`", line) for line in lines]


LAYERS = readme_layers((ROOT / "README.md").read_text(encoding="utf-8"))
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for f in sorted(package.rglob("*.py")):
        parts = list(f.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package modules that ``name`` imports, anywhere in it."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            subs = {f"{prefix}.{a.name}" for a in node.names} & known
            # `from pkg import module` imports the module; `from pkg import name`, pkg.
            if len(subs) < len(node.names):
                found.add(prefix)
            found |= subs
    return (found & known) - {name}


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    mods = modules(package)
    return {m: imports(m, f, set(mods)) for m, f in mods.items()}


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def layer(module: str) -> int:
    """The rank of a module's layer in the README's list (the package itself,
    which imports nothing, lowest; ``python -m simulator``, which runs the CLI,
    with the CLI)."""
    parts = module.split(".")
    if len(parts) == 1:
        return -1
    return RANK["cli"] if parts[1] == "__main__" else RANK[parts[1]]


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


# The cycle finder can fail ---------------------------------------------------------------
def test_the_cycle_finder_finds_cycles_and_only_cycles() -> None:
    graph = {
        "a": {"b"},
        "b": {"c"},
        "c": {"a", "d"},  # a -> b -> c -> a
        "d": {"e"},
        "e": set(),
        "f": {"g"},
        "g": {"f"},  # f <-> g
        "h": {"h"},  # a module naming itself is not a cycle between modules
    }
    assert sorted(cycles(graph)) == [["a", "b", "c"], ["f", "g"]]
    assert cycles({k: v - {"a", "f"} for k, v in graph.items()}) == []


def test_the_import_reader_sees_late_and_relative_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "simulator"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from . import a\n")
    (pkg / "sub" / "a.py").write_text("def f():\n    from simulator.b import x\n")
    (pkg / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .sub.a import f\n"
    )
    graph = import_graph(pkg)
    assert graph["simulator.sub"] == {"simulator.sub.a"}
    assert graph["simulator.sub.a"] == {"simulator.b"}
    assert graph["simulator.b"] == {"simulator.sub.a"}
    assert cycles(graph) == [["simulator.b", "simulator.sub.a"]]


# The package ------------------------------------------------------------------------------
def test_no_import_cycle(graph: dict[str, set[str]]) -> None:
    assert cycles(graph) == []


def test_nothing_outside_the_cli_imports_it(graph: dict[str, set[str]]) -> None:
    bad = [
        f"{m} -> {d}"
        for m, deps in graph.items()
        for d in deps
        if d.startswith("simulator.cli")
        and not m.startswith("simulator.cli")
        and m != "simulator.__main__"
    ]
    assert bad == []


def test_experiments_import_nothing_from_report(graph: dict[str, set[str]]) -> None:
    bad = [
        f"{m} -> {d}"
        for m, deps in graph.items()
        if m.startswith("simulator.experiments")
        for d in deps
        if d.startswith("simulator.report")
    ]
    assert bad == []


def test_the_readme_names_every_part_of_the_package_once() -> None:
    names = [n for layer in LAYERS for n in layer]
    assert len(LAYERS) >= 5 and len(names) == len(set(names))
    tops = {m.split(".")[1] for m in modules() if m.count(".")} - {"__main__"}
    assert set(names) == tops
    assert RANK["folders"] < RANK["experiments"] < RANK["report"] < RANK["studies"] < RANK["cli"]


def test_layers_import_only_layers_below(graph: dict[str, set[str]]) -> None:
    bad = [
        f"{m} -> {d}"
        for m, deps in graph.items()
        for d in deps
        if layer(d) > layer(m) and d not in ANYWHERE
    ]
    assert bad == []


def test_no_module_is_too_long() -> None:
    long = {
        m: n
        for m, f in modules().items()
        if (n := len(f.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
