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


def test_only_the_engine_imports_llama_cpp():
    users = {
        m for m, names in MODULES.items() if any(n.split(".")[0] == "llama_cpp" for n in names)
    }
    assert users <= {"disca_edge.engine"} | {
        m for m in MODULES if m.startswith("disca_edge.engine")
    }


def test_library_modules_never_import_the_cli():
    for module, names in MODULES.items():
        if module.startswith(("disca_edge.cli", "disca_edge.commands", "disca_edge.__main__")):
            continue
        assert not any(n.startswith(("disca_edge.cli", "disca_edge.commands")) for n in names), (
            module
        )


def test_the_two_documented_traps_stay_closed():
    assert not any(n.startswith("disca_edge.evaluate") for n in MODULES["disca_edge.results"])
    render = MODULES["disca_edge.personas.render"]
    assert not any(n.startswith("disca_edge.personas.panel") for n in render)


def test_pure_modules_do_no_io_imports():
    for module in ("disca_edge.core", "disca_edge.metrics", "disca_edge.categories"):
        heavy = {n.split(".")[0] for n in MODULES[module]} & {"pandas", "llama_cpp", "rich", "os"}
        assert heavy == set(), module
