"""`disca models`: list, pull and locate GGUF backbones from `models.toml`."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from .. import models as registry
from ..display import download_bar
from ._options import display_option

__all__ = ["models"]


def _size(spec: registry.ModelSpec) -> str:
    return f"{spec.size / 1e6:,.0f} MB" if spec.size else "?"


def _where(spec: registry.ModelSpec) -> str:
    if spec.source == "pypi":
        first = spec.packages[0].split("==")[0]
        return f"pypi {first}" + (f" +{len(spec.packages) - 1}" if len(spec.packages) > 1 else "")
    if spec.source == "hf":
        return f"hf {spec.repo}"
    return f"path {spec.path}"


@click.group(invoke_without_command=True)
@click.pass_context
def models(ctx: click.Context) -> None:
    """List, pull and locate models (default: list)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_models)


@models.command("list")
@click.option("--json", "json_", is_flag=True, help="Print JSON instead of a table.")
def list_models(json_: bool) -> None:
    """Registry models: name, size, source and whether they are pulled."""
    specs, default = registry.load_registry()
    rows = [
        {
            "name": s.name,
            "default": s.name == default,
            "description": s.description,
            "source": s.source,
            "size": s.size,
            "pulled": registry.is_pulled(s),
            "path": str(registry.local_path(s)),
        }
        for s in specs.values()
    ]
    if json_:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="disca-edge models")
    for column in ("name", "size", "source", "pulled"):
        table.add_column(column)
    for s in specs.values():
        name = f"{s.name} (default)" if s.name == default else s.name
        table.add_row(name, _size(s), _where(s), "yes" if registry.is_pulled(s) else "no")
    Console().print(table)


@models.command("pull")
@click.argument("name")
@click.option("--force", is_flag=True, help="Download again even if present.")
@click.option(
    "--from",
    "from_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Install a GGUF you downloaded yourself (checked against the registry hash).",
)
@display_option
def pull_model(name: str, force: bool, from_file: str | None, display: str) -> None:
    """Download NAME into the cache (atomic, size and sha256 verified)."""
    spec = registry.get_model(name)
    with download_bar(display, f"pulling {spec.name}") as update:
        path = registry.pull(spec, force=force, from_file=from_file, progress=update)
    click.echo(path)


@models.command("path")
@click.argument("name")
def model_path(name: str) -> None:
    """Print where NAME's GGUF lives (pulled or not)."""
    click.echo(registry.local_path(registry.get_model(name)))
