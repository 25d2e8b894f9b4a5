"""The command line's shared vocabulary: every option used by more than one command, once.

Decorators add the options and hand the command typed values:

* `engine_options`: ``--model/-m``, ``--threads/-t``, ``--n-ctx``, ``--n-gpu-layers/-ngl``,
  ``--extra-buffers``, ``--prefix-cache/--no-prefix-cache`` -> ``engine_options``, an
  `EngineOptions` (every command that loads a model);
* `variant_options`: ``--variant paper|reference`` and ``--param NAME=VALUE`` ->
  ``variant``, a `VariantOptions`; `prompt_variant_options` (``--cap``,
  ``--min-per-category``, ``--fourth``, ``--anchor-text``, ``--drop-dims``) -> ``prompt_variant``;
  `worker_options` (``--jobs/-j``, ``--executor``, ``--address``) -> ``workers``;
* `countries_option` (``--country/-c``, a comma list or paper20), `lang_option`
  (``--lang``, default ``native`` everywhere), `out_option` (``--out/-o``), `seed_option`,
  `data_seed_option`, `json_option`, `personas_option`, `display_option`, `param_option`,
  `noise_setting_option` (the second kernel setting of a noise floor).

Old spellings stay accepted as hidden aliases (`_alias`): ``--gpu-layers`` of
``--n-gpu-layers``, ``--output`` of ``--out``, ``--countries`` of ``--country``; giving
both spellings with different values is a usage error. ``--n-ctx`` has no short form:
``-c`` is ``--country``. Defaults show in every ``--help`` (the root group sets
``show_default``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from ..engine.hardware import EXTRA_BUFFERS, EXTRA_BUFFERS_ENV
from ..engine.options import NOISE_SETTINGS, EngineOptions
from ._complete import complete_countries, complete_models

__all__ = [
    "LANGS",
    "PromptVariant",
    "VariantOptions",
    "WorkerOptions",
    "countries_option",
    "data_seed_option",
    "display_option",
    "engine_options",
    "grouped",
    "json_option",
    "lang_option",
    "noise_setting_option",
    "out_option",
    "param_option",
    "personas_option",
    "prompt_variant_options",
    "seed_option",
    "stack",
    "variant_options",
    "worker_options",
]

F = TypeVar("F", bound=Callable[..., Any])

#: ``--lang`` values: each country's own language (the paper's protocol), or English.
LANGS = ("native", "en")


@dataclass(frozen=True)
class VariantOptions:
    """``--variant`` and ``--param``: the DISCA variant and its parameter overrides.

    Attributes:
        variant: ``paper`` or ``reference``.
        overrides: DISCA parameters by name (`evals.loop.parse_params`).
    """

    variant: str = "paper"
    overrides: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PromptVariant:
    """The prompt variants of an evaluation (`content.variants`); fields as in `EvalConfig`."""

    cap: int | None = 80
    min_per_category: int = 0
    fourth: str = "aggregate"
    anchor_text: str = "fixed"
    drop_dims: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkerOptions:
    """Where an evaluation's work runs: ``jobs`` workers, ``local`` or ``ray`` (at ``address``)."""

    jobs: int = 1
    executor: str = "local"
    address: str | None = None


def stack(command: F, decorators: list[Callable[[Any], Any]]) -> F:
    """`command` with the click decorators, the first one outermost (as if stacked)."""
    wrapped: Any = command
    for decorator in reversed(decorators):
        wrapped = decorator(wrapped)
    return wrapped  # type: ignore[no-any-return]


def grouped(command: F, into: str, build: Callable[..., Any], names: tuple[str, ...]) -> F:
    """`command` called with ``into=build(**those keyword arguments)`` instead of `names`."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        kwargs[into] = build(**{name: kwargs.pop(name) for name in names})
        return command(*args, **kwargs)

    return run  # type: ignore[return-value]


def _alias(
    old: str, primary: str, dest: str, *, required: bool = False, **option: Any
) -> Callable[[F], F]:
    """A hidden option `old`, another spelling of `primary` (parameter `dest`).

    With `required`, one of the two spellings must be given (the primary option itself
    is then declared optional, so the old spelling alone is enough).

    Raises (when the command runs):
        click.UsageError: both spellings given, with different values, or neither when
            `required`.
    """
    hidden = f"{dest}_alias"

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            value = kwargs.pop(hidden, None)
            if value is not None:
                source = click.get_current_context().get_parameter_source(dest)
                given = source not in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)
                if given and kwargs[dest] != value:
                    raise click.UsageError(
                        f"{old} is another name of {primary}: give one, not both"
                    )
                kwargs[dest] = value
            if required and kwargs[dest] is None:
                raise click.UsageError(f"Missing option '{primary}'.")
            return command(*args, **kwargs)

        hide = click.option(old, hidden, hidden=True, help=f"Another name of {primary}.", **option)
        return hide(run)  # type: ignore[return-value]

    return decorate


def display_option(command: F) -> F:
    """Add ``--display auto|rich|plain|none`` (progress on stderr; `progress.make_progress`).

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
        help="Progress on stderr (auto: rich on a terminal, else none; plain: log lines).",
    )(command)


def engine_options(command: F) -> F:
    """Add the engine options; the command receives them as one ``engine_options``.

    Args:
        command: the click command function; it gains the keyword argument
            ``engine_options`` (an `EngineOptions`; None fields: the registry's defaults).

    Returns:
        The decorated function.
    """

    def build(model, threads, n_ctx, n_gpu_layers, extra_buffers, prefix_cache) -> EngineOptions:
        return EngineOptions(model=model, n_threads=threads, n_ctx=n_ctx,
                             n_gpu_layers=n_gpu_layers, extra_buffers=extra_buffers,
                             prefix_cache=prefix_cache)  # fmt: skip

    names = ("model", "threads", "n_ctx", "n_gpu_layers", "extra_buffers", "prefix_cache")
    gpu_layers = click.IntRange(min=-1)
    return stack(
        grouped(command, "engine_options", build, names),
        [
            click.option("--model", "-m", shell_complete=complete_models,
                         help="Registry name or .gguf path  [default: the registry's default]"),
            click.option("--threads", "-t", type=click.IntRange(min=1),
                         help="CPU threads  [default: all; with --jobs, shared out]"),
            click.option("--n-ctx", type=click.IntRange(min=512),
                         help="Context size in tokens; too small for the prompts is an error  "
                         "[default: the registry entry's, sized up for the prompts]"),
            click.option("--n-gpu-layers", "-ngl", "n_gpu_layers", type=gpu_layers,
                         help="Layers to offload to the GPU (-1 = all)  [default: the registry's]"),
            click.option("--extra-buffers", type=click.Choice(EXTRA_BUFFERS, case_sensitive=False),
                         envvar=EXTRA_BUFFERS_ENV,
                         help="llama.cpp weight repacking: auto (off on AMX CPUs, where it "
                         f"crashes), on, off  [env {EXTRA_BUFFERS_ENV}; default: auto]"),
            click.option("--prefix-cache/--no-prefix-cache", default=True,
                         help="Keep persona-prefix KV states in the cache so the next process "
                         "skips them."),
            _alias("--gpu-layers", "--n-gpu-layers", "n_gpu_layers", type=gpu_layers),
        ],
    )  # fmt: skip


def variant_options(command: F) -> F:
    """Add ``--variant`` and ``--param``; the command receives ``variant`` (`VariantOptions`).

    A malformed or unknown ``--param`` is a one-line error when the command runs.
    """

    def build(variant: str, params: tuple[str, ...]) -> VariantOptions:
        from ..evals.loop import parse_params

        return VariantOptions(variant, parse_params(params))

    return stack(
        grouped(command, "variant", build, ("variant", "params")),
        [
            click.option("--variant", type=click.Choice(["paper", "reference"]), default="paper",
                         help="DISCA variant (an evaluation computes both; this one heads the "
                         "tables and is the ablations' base)."),
            param_option(grid=False),
        ],
    )  # fmt: skip


def param_option(*, grid: bool) -> Callable[[F], F]:
    """``--param NAME=VALUE`` (repeatable) -> ``params``; with `grid`, ``NAME=V1,V2`` too."""
    more = " or a grid NAME=V1,V2,..." if grid else ""
    return click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
                        help=f"DISCA parameter override NAME=VALUE{more} (repeatable).")  # fmt: skip


def prompt_variant_options(command: F) -> F:
    """Add the evaluation's prompt variants; the command receives ``prompt_variant``."""

    def build(cap: str, min_per_category: int, fourth: str, anchor_text: str,
              drop_dims: str | None) -> PromptVariant:  # fmt: skip
        from ..content.variants import parse_cap, parse_drop_dims

        return PromptVariant(parse_cap(cap), min_per_category, fourth, anchor_text,
                             parse_drop_dims(drop_dims))  # fmt: skip

    names = ("cap", "min_per_category", "fourth", "anchor_text", "drop_dims")
    return stack(
        grouped(command, "prompt_variant", build, names),
        [
            click.option("--cap", default="80",
                         help="Pool rows per category: 80 (paper), 40, 120 or none."),
            click.option("--min-per-category", type=click.IntRange(min=0), default=0,
                         help="Oversample small categories to N rows (36: the paper's text)."),
            click.option("--fourth", type=click.Choice(["aggregate", "utilitarian"]),
                         default="aggregate", help="Fourth persona: the population aggregate or "
                         "a utilitarian anchor (the authors' text, in the personas' language)."),
            click.option("--anchor-text", type=click.Choice(["fixed", "released"]),
                         default="fixed", help="Wording of the --fourth utilitarian anchor: "
                         "fixed (the country named) or released ({country_name} left unfilled, "
                         "as in the authors' code)."),
            click.option("--drop-dims", help="WVS dimensions left out of the persona texts "
                         "(comma-separated, e.g. religiosity)."),
        ],
    )  # fmt: skip


def worker_options(command: F) -> F:
    """Add ``--jobs/-j``, ``--executor``, ``--address``; the command receives ``workers``."""
    return stack(
        grouped(command, "workers", WorkerOptions, ("jobs", "executor", "address")),
        [
            click.option("--jobs", "-j", type=click.IntRange(min=1), default=1,
                         help="Worker processes (or Ray actors), each with its own model."),
            click.option("--executor", type=click.Choice(["local", "ray"]), default="local",
                         help="Where jobs run: local processes or Ray actors."),
            click.option("--address",
                         help="Ray cluster address (e.g. auto)  [default: a local Ray]"),
        ],
    )  # fmt: skip


def countries_option(
    *, default: str | None = None, help: str | None = None, default_text: str | None = None
) -> Callable[[F], F]:
    """``--country/-c`` (also spelled ``--countries``) -> ``countries``: ISO3, ISO2 or names.

    Args:
        default: the value when not given (None: no country).
        help: the option's help (default: the list form).
        default_text: what the help says of a None `default`.
    """
    text = help or "ISO3, ISO2 or name (JPN, JP, Japan); several: JP,US,DE; paper20: the paper's 20"
    shown: bool | str = default_text or True

    def decorate(command: F) -> F:
        return stack(
            command,
            [
                click.option("--country", "-c", "countries", default=default, show_default=shown,
                             shell_complete=complete_countries,
                             help=f"{text}; also spelled --countries."),
                _alias("--countries", "--country", "countries",
                       shell_complete=complete_countries),
            ],
        )  # fmt: skip

    return decorate


def lang_option(*, codes: bool = False) -> Callable[[F], F]:
    """``--lang`` (default ``native``, everywhere); with `codes`, a language code too."""
    text = ("native: each country's own language, as the paper runs it (persona-only "
            "languages keep the English frame); en: English.")  # fmt: skip
    return click.option(
        "--lang",
        type=str if codes else click.Choice(LANGS),
        default="native",
        help=text + (" Or a language code (de, ja, ...)." if codes else ""),
    )


def out_option(*, help: str, required: bool = True, file: bool = False) -> Callable[[F], F]:
    """``--out/-o`` (also spelled ``--output``) -> ``out``: the file or folder written."""
    kind = click.Path(dir_okay=not file, file_okay=file, path_type=Path)
    text = f"{help}  [required]" if required else help

    def decorate(command: F) -> F:
        return stack(
            command,
            [
                click.option("--out", "-o", "out", type=kind, help=text),
                _alias("--output", "--out", "out", required=required, type=kind),
            ],
        )

    return decorate


def seed_option(*, default: int | None = 42, help: str = "IS seed.") -> Callable[[F], F]:
    """``--seed`` -> ``seed``."""
    return click.option("--seed", type=click.IntRange(min=0), default=default, help=help)


def data_seed_option(command: F) -> F:
    """``--data-seed`` -> ``data_seed``: the DISCA pool, shuffle and opener seed."""
    return click.option(
        "--data-seed", type=click.IntRange(min=0), default=42,
        help="DISCA data seed (pool, shuffle, openers).",
    )(command)  # fmt: skip


def json_option(help: str = "Machine output: JSON.") -> Callable[[F], F]:
    """``--json`` -> ``json_``."""
    return click.option("--json", "json_", is_flag=True, help=help)


def personas_option(*names: str) -> Callable[[F], F]:
    """``--personas DIR`` (env ``DISCA_PERSONAS_DIR``): a persona folder instead of the shipped one.

    Panels written by ``disca personas build --out DIR`` are such a folder. The value
    reaches the command as ``personas_dir`` (a Path, or None for the shipped panels).

    Args:
        names: more spellings (``--dir`` on `disca personas`).
    """
    return click.option(
        "--personas",
        *names,
        "personas_dir",
        envvar="DISCA_PERSONAS_DIR",
        show_envvar=True,
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="Persona folder (ISO3.toml files, e.g. from `disca personas build --out DIR`) "
        "instead of the shipped panels.",
    )


def noise_setting_option(*names: str) -> Callable[[F], F]:
    """The second kernel setting of a noise floor -> ``noise_setting`` (default f16).

    Args:
        names: the option's spellings (``--noise-setting``; ``--setting`` where the
            command is about the noise floor).
    """
    return click.option(
        *names,
        "noise_setting",
        type=click.Choice(NOISE_SETTINGS),
        default="f16",
        help="The second kernel setting the noise floor re-evaluates under: f16 (an f16 KV "
        "cache), no-flash-attn (attention without flash attention, f16 cache) or same (a "
        "control: the run's own settings, which should give zero differences).",
    )
