"""`disca --help` stays light: neither pandas, matplotlib nor llama_cpp is imported for help."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import json, sys
from disca_edge.cli import cli
try:
    cli.main({args!r}, prog_name="disca", standalone_mode=False)
except SystemExit:
    pass
print(json.dumps({{m: m in sys.modules for m in ("pandas", "llama_cpp", "matplotlib")}}))
"""


@pytest.mark.parametrize(
    "args", [["--help"], ["eval", "--help"], ["ask", "--help"], ["report", "--help"]]
)
def test_help_does_not_import_pandas_matplotlib_or_llama_cpp(args):
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    loaded = json.loads(out.strip().splitlines()[-1])
    assert loaded == {"pandas": False, "llama_cpp": False, "matplotlib": False}
