"""`disca models`: list, pull and locate GGUF backbones from `models.toml`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ..models import registry
from ..models.gguf import check_gguf
from ..models.pull import pull
from ..progress import download_bar
from ._complete import complete_models
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
    """List, pull, add and locate models (default: list)."""
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
            "origin": s.origin,
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
        name += " (yours)" if s.origin == "user" else ""
        table.add_row(name, _size(s), _where(s), "yes" if registry.is_pulled(s) else "no")
    Console().print(table)


@models.command("pull")
@click.argument("name", shell_complete=complete_models)
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
        path = pull(spec, force=force, from_file=from_file, progress=update)
    click.echo(path)


@models.command("path")
@click.argument("name", shell_complete=complete_models)
def model_path(name: str) -> None:
    """Print where NAME's GGUF lives (pulled or not)."""
    click.echo(registry.local_path(registry.get_model(name)))


def _source_entry(source: str) -> dict:
    """``PATH`` or ``hf:OWNER/REPO/FILE[@REVISION]`` as registry fields."""
    if source.startswith("hf:"):
        ref, _, revision = source[3:].partition("@")
        parts = [p for p in ref.split("/") if p]
        if len(parts) < 3 or not parts[-1].endswith(".gguf") or (_ and not revision):
            raise click.UsageError(
                f"bad hub source {source!r}: expected hf:OWNER/REPO/FILE.gguf[@REVISION]"
            )
        return {"source": "hf", "repo": "/".join(parts[:2]), "file": "/".join(parts[2:]),
                "revision": revision or None}  # fmt: skip
    path = Path(source).expanduser().resolve()
    info = check_gguf(path)
    return {"source": "path", "path": str(path), "size": info.size}


@models.command("add")
@click.argument("name")
@click.argument("source", metavar="PATH|hf:REPO/FILE[@REVISION]")
@click.option("--n-ctx", type=click.IntRange(min=512), help="Context size in tokens [4096].")
@click.option("--n-gpu-layers", type=click.IntRange(min=-1), help="Layers to offload (-1 = all).")
@click.option("--chat-template", metavar="JINJA|@FILE", help="Chat template (or @file with it).")
@click.option("--description", help="One line shown by `disca models list`.")
@click.option("--force", is_flag=True, help="Replace a model of the same name.")
def add_model(name, source, n_ctx, n_gpu_layers, chat_template, description, force) -> None:
    """Register a model of your own under NAME in your models.toml.

    \b
      disca models add mistral ~/models/mistral-7b-instruct.Q4_K_M.gguf --n-gpu-layers -1
      disca models add qwen3 hf:Qwen/Qwen3-8B-GGUF/Qwen3-8B-Q4_K_M.gguf@main --n-ctx 8192

    A PATH is checked (GGUF header) and used where it is; a hub file is pulled on first
    use through huggingface_hub's cache, at the pinned REVISION when given.
    """
    entry = _source_entry(source)
    if chat_template is not None and chat_template.startswith("@"):
        template_file = Path(chat_template[1:]).expanduser()
        try:
            chat_template = template_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise click.UsageError(f"cannot read chat template {template_file}: {exc}") from None
    entry.update(description=description or f"added from {source}", n_ctx=n_ctx,
                 n_gpu_layers=n_gpu_layers, chat_template=chat_template)  # fmt: skip
    file = registry.save_user_model(name, entry, replace=force)
    click.echo(f"added {name} to {file}")


@models.command("rm")
@click.argument("name", shell_complete=complete_models)
def rm_model(name: str) -> None:
    """Remove a model you added (the pulled file stays; `disca cache clear` frees it)."""
    file = registry.remove_user_model(name)
    click.echo(f"removed {name} from {file}")


@models.command("show")
@click.argument("name", shell_complete=complete_models)
@click.option("--json", "json_", is_flag=True, help="Print JSON.")
def show_model(name: str, json_: bool) -> None:
    """Everything the registry says about NAME, where it comes from and whether it is pulled."""
    spec = registry.get_model(name)
    row = {k: v for k, v in dataclasses.asdict(spec).items() if v not in (None, (), {}, "")}
    row["origin"] = (
        str(registry.user_registry_file()) if spec.origin == "user" else "shipped models.toml"
    )
    row["local_path"] = str(registry.local_path(spec))
    row["pulled"] = registry.is_pulled(spec)
    if json_:
        click.echo(json.dumps(row, indent=2, ensure_ascii=False, default=list))
        return
    table = Table(show_header=False, box=None, title=spec.name, title_justify="left")
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in row.items():
        if key == "chat_template":
            value = f"{len(value)} characters: {value[:60]}…" if len(value) > 60 else value
        table.add_row(key, ", ".join(value) if isinstance(value, (list, tuple)) else str(value))
    Console(highlight=False).print(table)
