"""Size limits that keep every module to one job (issue 17): checked on the source.

No library module over 600 lines and no function over 60 lines (the whole ``def``,
docstring included). Complexity (C901 <= 12) is ruff's, in `.ci/run`.
"""

from __future__ import annotations

import ast
import pathlib

import disca_edge

PACKAGE = pathlib.Path(disca_edge.__file__).parent
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60


def _sources() -> list[pathlib.Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_over_600_lines():
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in _sources()
        if (n := len(p.read_text("utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_no_function_over_60_lines():
    long = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(PACKAGE)}:{node.name}"] = n
    assert long == {}
