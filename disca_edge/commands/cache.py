"""`disca cache`: list and clear pulled models and saved prefix KV states."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from ..models import cache as cache_lib
from ..paths import cache_dir

__all__ = ["cache"]


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


@click.group(invoke_without_command=True)
@click.pass_context
def cache(ctx: click.Context) -> None:
    """Pulled models and saved prefix KV states in the cache folder (default: list)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_)


@cache.command("list")
@click.option("--json", "json_", is_flag=True, help="Print JSON.")
def list_(json_: bool) -> None:
    """What the cache holds, per model and per KV-state folder, with sizes."""
    rows = cache_lib.entries()
    if json_:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2))
        return
    table = Table(title=f"disca-edge cache: {cache_dir()}", title_justify="left")
    for column in ("kind", "name", "files", "size"):
        table.add_column(
            column, justify="left" if column in ("kind", "name") else "right", no_wrap=True
        )
    for r in rows:
        files = f"{r.files}" + (f" (+{r.links} hub link)" if r.links else "")
        table.add_row(r.kind, r.name, files, _mb(r.size))
    table.add_row("", "total", "", _mb(sum(r.size for r in rows)), style="bold")
    Console(highlight=False).print(table)


@cache.command("clear")
@click.argument("names", nargs=-1)
@click.option("--models", "models_", is_flag=True, help="Only pulled models.")
@click.option("--kv", is_flag=True, help="Only saved prefix KV states.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def clear(names: tuple[str, ...], models_: bool, kv: bool, yes: bool) -> None:
    """Delete cached models and/or KV states (all, or only NAMES); they are re-made on use.

    Hub models keep their bytes in huggingface_hub's cache (see `hf cache`).
    """
    kinds = [k for k, on in (("models", models_), ("kv", kv)) if on] or list(cache_lib.KINDS)
    todo = cache_lib.select(kinds, names)
    if not todo:
        click.echo("nothing to clear")
        return
    total = sum(e.size for e in todo)
    if not yes:
        click.confirm(f"delete {len(todo)} cache folder(s), {_mb(total)}?", abort=True)
    removed = cache_lib.clear(todo)
    click.echo(f"cleared {len(removed)} folder(s), {_mb(sum(e.size for e in removed))}")
