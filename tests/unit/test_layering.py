"""The import rules ARCHITECTURE.md states, checked on the source (function-level imports too)."""

from __future__ import annotations

import ast
import pathlib

import disca_edge

PACKAGE = pathlib.Path(disca_edge.__file__).parent


def _imports(path: pathlib.Path) -> set[str]:
    """Absolute names of every module `path` imports, anywhere in the file."""
    package = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _module(path: pathlib.Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


MODULES = {_module(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


# The floors of ARCHITECTURE.md, bottom up: a module may import its own floor and those below.
FLOORS = {
    "errors": 0,
    "paths": 0,
    "text": 0,
    "machine": 0,
    "interrupts": 0,
    "progress": 0,
    "maths": 1,
    "content": 2,
    "engine": 3,
    "pipeline": 4,
    "models": 5,
    "ask": 6,
    "evals": 7,
    "views": 8,
    "session": 9,
    "doctor": 9,
    "cli": 10,
    "commands": 10,
    "__main__": 11,
}


def _floor(name: str) -> int | None:
    """The floor of a `disca_edge.…` name; None for the package root and `__version__`."""
    parts = name.split(".")
    if len(parts) < 2 or parts[1] in ("__version__", "__init__"):
        return None
    return FLOORS[parts[1]]


def test_every_module_sits_on_a_floor():
    unplaced = {m.split(".")[1] for m in MODULES if "." in m} - set(FLOORS) - {"__init__"}
    assert unplaced == set(), f"put {sorted(unplaced)} on a floor in FLOORS and ARCHITECTURE.md"


def test_nothing_imports_a_floor_above_it():
    up = []
    for module, names in MODULES.items():
        here = _floor(module)
        if here is None:
            continue
        for name in names:
            there = _floor(name) if name.startswith("disca_edge.") else None
            if there is not None and there > here:
                up.append(f"{module} -> {name}")
    assert up == []


def test_only_the_engine_imports_llama_cpp():
    users = {
        m for m, names in MODULES.items() if any(n.split(".")[0] == "llama_cpp" for n in names)
    }
    assert users <= {m for m in MODULES if m.startswith("disca_edge.engine")}


def test_the_documented_traps_stay_closed():
    results = MODULES["disca_edge.evals.results"]
    assert not any(n.startswith("disca_edge.evals.loop") for n in results)
    render = MODULES["disca_edge.content.personas.render"]
    assert not any(n.startswith("disca_edge.content.personas.panel") for n in render)
    # pipeline glues content to the engine; the engine never learns about personas
    engine = set().union(*(v for k, v in MODULES.items() if k.startswith("disca_edge.engine")))
    assert not any(n.startswith(("disca_edge.content", "disca_edge.pipeline")) for n in engine)


def test_pure_modules_do_no_io_imports():
    pure = [m for m in MODULES if m.startswith("disca_edge.maths.")]  # the whole floor
    assert {"disca_edge.maths.core.__init__", "disca_edge.maths.metrics"} <= set(pure)
    for module in pure:
        heavy = {n.split(".")[0] for n in MODULES[module]} & {"pandas", "llama_cpp", "rich", "os"}
        assert heavy == set(), module
