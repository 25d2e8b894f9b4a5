"""`disca data`: pull and locate third-party data (Moral Machine human targets)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .. import paths
from ..content.human_targets import (
    DATASETS,
    MORAL_MACHINE,
    dataset_info,
    list_datasets,
    pull_moral_machine,
)
from ..progress import make_progress
from ._options import display_option

__all__ = ["data"]

_PULLERS = {MORAL_MACHINE: pull_moral_machine}


@click.group()
def data() -> None:
    """Third-party data: Moral Machine human targets (never shipped with the package)."""


@data.command()
@click.argument("name", type=click.Choice(list(DATASETS)))
@click.option(
    "--from",
    "from_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Use this local copy instead of downloading.",
)
@display_option
def pull(name: str, from_file: Path | None, display: str) -> None:
    """Download (or copy --from FILE), validate and store a dataset."""
    progress = make_progress(display, unit="bytes", description=f"downloading {name}")
    progress.start(None)
    try:
        path = _PULLERS[name](from_file, progress=progress)
    finally:
        progress.close()
    info = dataset_info(name)
    click.echo(f"Stored {path} ({info['rows']} rows, {info['countries']} countries)")
    click.echo(f"sha256 {info['sha256']}")


@data.command("list")
@click.option("--json", "json_", is_flag=True, help="Output JSON.")
def list_(json_: bool) -> None:
    """Known datasets: whether pulled, where, sha256, source."""
    infos = list_datasets()
    if json_:
        click.echo(json.dumps(infos, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for column in ("name", "pulled", "rows", "sha256", "pulled_at", "path"):
        table.add_column(column, overflow="fold")
    for info in infos:
        table.add_row(
            info["name"],
            "yes" if info["pulled"] else "no",
            str(info.get("rows", "")),
            info.get("sha256", ""),
            info.get("pulled_at", ""),
            info["path"],
        )
    Console().print(table)


@data.command("path")
@click.argument("name", required=False, type=click.Choice(list(DATASETS)))
def path_(name: str | None) -> None:
    """Print the data folder, or one dataset's file path."""
    click.echo(dataset_info(name)["path"] if name else str(paths.data_dir()))
