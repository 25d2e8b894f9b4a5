"""Shared click options of every command that loads a model, written once as decorators.

`engine_options` adds ``--model/-m``, ``-t/--threads``, ``--n-ctx``,
``-ngl/--n-gpu-layers`` and ``--extra-buffers``; the command receives them as ``model``,
``threads``, ``n_ctx``, ``n_gpu_layers`` and ``extra_buffers``. ``--n-ctx`` has no short
form: ``-c`` already means ``--country`` on `disca ask`. ``--gpu-layers`` (the name `disca ask` first shipped
with) stays accepted as a hidden alias of ``--n-gpu-layers``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..engine.hardware import EXTRA_BUFFERS, EXTRA_BUFFERS_ENV
from ._complete import complete_models

__all__ = ["engine_options", "display_option"]

F = TypeVar("F", bound=Callable[..., Any])


def display_option(command: F) -> F:
    """Add ``--display auto|rich|plain|none`` (progress on stderr; `display.make_progress`).

    Args:
        command: the click command function; it gains the keyword argument ``display``.

    Returns:
        The decorated function.
    """
    from ..progress import DISPLAYS

    return click.option(
        "--display",
        type=click.Choice(DISPLAYS),
        default="auto",
        show_default=True,
        help="Progress on stderr (auto: rich on a terminal, else none; plain: log lines).",
    )(command)


def engine_options(command: F) -> F:
    """Add the engine options (model, threads, context, GPU layers, extra buffers) to a command.

    Args:
        command: the click command function; it gains the keyword arguments ``model``,
            ``threads``, ``n_ctx``, ``n_gpu_layers`` and ``extra_buffers`` (None when not
            given).

    Returns:
        The decorated function.
    """
    decorators = [
        click.option(
            "--model",
            "-m",
            help="Registry name or .gguf path  [default: registry default]",
            shell_complete=complete_models,
        ),
        click.option(
            "--threads", "-t", type=click.IntRange(min=1), help="CPU threads  [default: all]"
        ),
        click.option(
            "--n-ctx",
            type=click.IntRange(min=512),
            help="Context size in tokens  [default: the model's registry entry]",
        ),
        click.option(
            "--n-gpu-layers",
            "-ngl",
            "n_gpu_layers",
            type=click.IntRange(min=-1),
            help="Layers to offload to the GPU (-1 = all)  [default: the registry's]",
        ),
        click.option(
            "--extra-buffers",
            type=click.Choice(EXTRA_BUFFERS, case_sensitive=False),
            envvar=EXTRA_BUFFERS_ENV,
            help="llama.cpp weight repacking: auto (off on AMX CPUs, where it crashes), on, "
            f"off  [env {EXTRA_BUFFERS_ENV}; default: auto]",
        ),
        click.option(
            "--gpu-layers",
            "gpu_layers_alias",
            type=click.IntRange(min=-1),
            hidden=True,
            help="Old name of --n-gpu-layers.",
        ),
    ]

    @functools.wraps(command)
    def run(*args: Any, gpu_layers_alias: int | None = None, **kwargs: Any) -> Any:
        if gpu_layers_alias is not None:
            if kwargs.get("n_gpu_layers") not in (None, gpu_layers_alias):
                raise click.UsageError("--gpu-layers is the old name of --n-gpu-layers: give one")
            kwargs["n_gpu_layers"] = gpu_layers_alias
        return command(*args, **kwargs)

    wrapped: Any = run
    for decorator in reversed(decorators):
        wrapped = decorator(wrapped)
    return wrapped  # type: ignore[no-any-return]
