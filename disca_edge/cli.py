"""The `disca` command line: a thin click layer over the library.

Each command parses options, calls one library function and hands the result to
`report`. Domain errors (`DiscaError`) become one-line messages with exit 1;
Ctrl-C exits 130. Command groups live in their own modules and are attached
here with `add_command`.
"""

from __future__ import annotations

import functools
import sys
from pathlib import PurePath

import click

from . import __version__
from .errors import DiscaError
from .text import check_text, printable

__all__ = ["main", "cli"]

_INTERRUPTED = "Interrupted."


def _interrupted() -> click.exceptions.Exit:
    """Ctrl-C: one line on stderr and exit 130 (128 + SIGINT), whatever was running."""
    click.echo(_INTERRUPTED, err=True)
    return click.exceptions.Exit(130)


def _label(param: click.Parameter) -> str:
    if isinstance(param, click.Option):
        return max(param.opts, key=len)
    return f"argument {(param.name or '').upper()}"


def _check_values(command: click.Command) -> None:
    """Make `command` refuse non-UTF-8 or control-character values before it runs.

    Runs after click has parsed the values (so the message names the option) and before
    the command body (so nothing has loaded or been read yet). Groups are walked down.
    """
    if getattr(command, "_values_checked", False):
        return
    command._values_checked = True  # type: ignore[attr-defined]
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _check_values(sub)
    callback = command.callback
    if callback is None:
        return
    labels = {p.name: _label(p) for p in command.params}

    @functools.wraps(callback)
    def checked(*args, **kwargs):
        for key, value in kwargs.items():
            for item in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(item, (str, PurePath)):
                    check_text(str(item), labels.get(key, key))
        return callback(*args, **kwargs)

    command.callback = checked


class _Group(click.Group):
    """The root group: one-line errors, no raw control characters, Ctrl-C exits 130.

    Library errors (`DiscaError`) become one-line click errors; every error message is
    passed through `text.printable` (it may quote user text); option and argument
    values of every command are checked by `text.check_text` before the command runs.
    """

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.ClickException as exc:
            exc.message = printable(exc.message)  # type: ignore[misc]  # click allows it
            raise
        except KeyboardInterrupt:
            raise _interrupted() from None

    def invoke(self, ctx: click.Context):
        _check_values(self)
        try:
            return super().invoke(ctx)
        except DiscaError as exc:
            raise click.ClickException(printable(str(exc))) from None
        except click.ClickException as exc:
            exc.message = printable(exc.message)  # type: ignore[misc]  # click allows it
            raise
        except KeyboardInterrupt:
            raise _interrupted() from None


@click.group(
    cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "show_default": True}
)
@click.version_option(__version__, prog_name="disca")
def cli() -> None:
    """disca-edge: steer a local GGUF model's moral choices toward a country's
    preferences with DISCA persona disagreement (arXiv 2605.10843)."""


def main() -> None:
    """Console-script entry point (`disca_edge.__main__` guards the imports before it)."""
    try:
        cli.main(prog_name="disca", auto_envvar_prefix="DISCA", standalone_mode=True)
    except KeyboardInterrupt:  # between click's handlers, e.g. while printing an error
        print(_INTERRUPTED, file=sys.stderr)
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
from .commands.doctor import doctor  # noqa: E402

cli.add_command(doctor)
from .commands.cache import cache  # noqa: E402

cli.add_command(cache)
