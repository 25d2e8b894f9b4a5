"""`disca doctor`: versions, CPU features, GPU offload, folders and pulled models."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from ..doctor import diagnose

__all__ = ["doctor"]


def _yes(value) -> str:
    return "yes" if value is True else "no" if value is False else str(value)


@click.command()
@click.option("--json", "json_", is_flag=True, help="Print JSON instead of a table.")
def doctor(json_: bool) -> None:
    """Show what disca-edge runs on: versions, CPU features, GPU offload, folders, models."""
    report = diagnose()
    if json_:
        click.echo(json.dumps(report, indent=2))
        return
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    versions = report["versions"]
    table.add_row("disca-edge", versions["disca_edge"])
    tested = "" if versions["llama_cpp_python_in_tested_range"] else "  (UNTESTED"
    tested += f"; tested: {versions['llama_cpp_python_tested']})" if tested else ""
    table.add_row("llama-cpp-python", versions["llama_cpp_python"] + tested)
    table.add_row("llama.cpp", str(versions["llama_cpp"]))
    table.add_row("CPU features", "  ".join(f"{k} {_yes(v)}" for k, v in report["cpu"].items()))
    buffers = report["extra_buffers"]
    table.add_row(
        "extra buffers",
        buffers.get("error") or f"{buffers['setting']} -> {'on' if buffers['on'] else 'off'}",
    )
    table.add_row("GPU offload", _yes(report["gpu_offload"]))
    for name, folder in report["folders"].items():
        table.add_row(f"folder: {name}", folder or "(not set)")
    models = report["models_pulled"]
    table.add_row(
        "models pulled",
        "\n".join(m.get("error") or f"{m['name']}  {m['path']}" for m in models) or "none",
    )
    Console().print(table)
