"""The `disca` command line: a thin click layer over the library.

Each command parses options, calls one library function and hands the result to
`report`. Domain errors (`DiscaError`) become one-line messages with exit 1;
Ctrl-C exits 130. Command groups live in their own modules and are attached
here with `add_command`.
"""

from __future__ import annotations

import sys

import click

from . import __version__
from .errors import DiscaError

__all__ = ["main", "cli"]


class _Group(click.Group):
    """Turns library errors into one-line click errors (no tracebacks)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DiscaError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="disca")
def cli() -> None:
    """disca-edge: steer a local GGUF model's moral choices toward a country's
    preferences with DISCA persona disagreement (arXiv 2605.10843)."""


def main() -> None:
    """Console-script entry point."""
    try:
        cli.main(prog_name="disca", auto_envvar_prefix="DISCA", standalone_mode=True)
    except KeyboardInterrupt:  # pragma: no cover - click usually handles it
        click.echo("Interrupted.", err=True)
        sys.exit(130)


# --- command groups (one module each) -------------------------------------
from .commands.scenarios import scenarios  # noqa: E402

cli.add_command(scenarios)
from .commands.data import data  # noqa: E402

cli.add_command(data)
from .commands.personas import personas  # noqa: E402

cli.add_command(personas)
from .commands.models import models  # noqa: E402

cli.add_command(models)
from .commands.evaluate import eval_  # noqa: E402

cli.add_command(eval_)
from .commands.report import report  # noqa: E402

cli.add_command(report)
from .commands.ask import ask  # noqa: E402

cli.add_command(ask)
