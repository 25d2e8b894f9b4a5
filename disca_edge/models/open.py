"""Opening a model: `EngineOptions` to a verified GGUF, loaded once into an `Engine`.

A ``--model`` value is a registry name (pulled on first use) or a path to a ``.gguf``
file; `ModelInfo` is what a result records about the model it came from. `open_engine`
sizes the context for the prompts a run will send (`pipeline.ContextDemand`) between
loading the weights and making the context, so a model is never opened twice.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..engine import DEFAULT_N_CTX, ChatTokens, Engine, EngineOptions, llama_cpp_version
from ..errors import DiscaError
from ..paths import PlaceError, cache_dir, check_writable_dir, home
from ..pipeline import ContextDemand
from .gguf import check_gguf
from .integrity import ProgressFn, verify_model, verify_sha256
from .pull import pull
from .registry import (
    ModelSpec,
    RegistryError,
    UnknownModelError,
    default_model_name,
    get_model,
    is_pulled,
    local_path,
)

__all__ = [
    "ContextTooSmallError",
    "ModelInfo",
    "model_file_size",
    "open_engine",
    "resolve_model",
    "warn_unlisted_languages",
]

log = logging.getLogger(__name__)

_WARNED_LANGUAGES: set[tuple[str, str]] = set()

#: A context sized up for the prompts is a multiple of this many tokens.
CONTEXT_STEP = 256


class ContextTooSmallError(DiscaError):
    """A context size the user chose is too small for the run's prompts."""


def warn_unlisted_languages(model: str | None, codes: Iterable[str]) -> list[str]:
    """Warn once per model and language when a model runs in a language it does not list.

    The list is ``languages`` in `models.toml`; this never fails.

    Models without a ``languages`` list, and paths to .gguf files, are not checked.

    Returns:
        The warnings emitted by this call.
    """
    if model is None:
        model = default_model_name()
    try:
        spec = get_model(str(model))
    except (UnknownModelError, RegistryError):
        return []
    if not spec.languages:
        return []
    out = []
    for code in dict.fromkeys(codes):
        if code in spec.languages or (spec.name, code) in _WARNED_LANGUAGES:
            continue
        _WARNED_LANGUAGES.add((spec.name, code))
        message = (
            f"warning: {spec.name} lists languages {', '.join(spec.languages)} in models.toml, "
            f"not {code}; its {code} prompts may be read poorly (use --lang en for English)"
        )
        log.warning(message)
        out.append(message)
    return out


def resolve_model(
    name_or_path: str | os.PathLike | None,
    *,
    pull_missing: bool = True,
    progress: ProgressFn | None = None,
) -> tuple[ModelSpec | None, Path]:
    """Turn a `--model` value into (registry entry or None, verified local GGUF path).

    A value that ends in ``.gguf`` or names an existing file is a path; anything else is
    a registry name, pulled on first use when `pull_missing` is set.
    """
    if name_or_path is None:
        name_or_path = default_model_name()
    text = str(name_or_path)
    if Path(os.path.expanduser(text)).is_dir():
        raise DiscaError(
            f"{text}: is a directory; --model takes a registry name (`disca models list`) "
            "or the path of a .gguf file"
        )
    if text.endswith(".gguf") or os.sep in text or Path(text).is_file():
        path = Path(os.path.expanduser(text))
        check_gguf(path)
        return None, path
    spec = get_model(text)
    if not is_pulled(spec):
        if not pull_missing:
            raise DiscaError(
                f"model {spec.name} is not pulled; run `disca models pull {spec.name}`"
            )
        if spec.source != "path":  # a path entry is not pulled: pull says what is missing
            log.warning(_pull_notice(spec))
        return spec, pull(spec, progress=progress)
    path = local_path(spec)
    check_gguf(path, spec.size)
    verify_sha256(spec, path, progress)
    return spec, path


def model_file_size(name_or_path: str | os.PathLike | None) -> int | None:
    """The size of a ``--model``'s GGUF in bytes, without pulling or opening it.

    A path's file size, or a registry entry's recorded size (else its pulled file's);
    None when not known (an unknown name, a hub entry without a size, not pulled yet).
    """
    text = str(name_or_path if name_or_path is not None else default_model_name())
    path = Path(os.path.expanduser(text))
    try:
        if path.is_file():
            return path.stat().st_size
        spec = get_model(text)
        return spec.size or (local_path(spec).stat().st_size if is_pulled(spec) else None)
    except (DiscaError, OSError):
        return None


def _pull_notice(spec: ModelSpec) -> str:
    """One line saying a model is pulled now, and why: not in this cache (which one).

    With `DISCA_HOME` set, the platform cache may hold the model already; the line says
    so, since the pull then only fills the new DISCA_HOME's cache.
    """
    size = f", {spec.size / 1e6:.0f} MB" if spec.size else ""
    target = local_path(spec)
    if home() is None:
        return f"note: pulling {spec.name} into {target.parent} (first use{size})"
    text = f"note: pulling {spec.name}{size}: the model cache under DISCA_HOME={home()} lacks it"
    other = cache_dir(ignore_home=True) / target.relative_to(cache_dir())
    if other.is_file():
        text += f" (a copy is in {other.parent}; unset DISCA_HOME to use that one)"
    return text


@dataclass(frozen=True)
class ModelInfo:
    """What a result records about the model it came from.

    `sha256` is the digest checked when the model was opened; `verified` says how:
    "full" (hashed now) or "sampled" (`models.integrity`); "" when not known.
    """

    name: str
    path: str
    sha256: str
    settings: dict
    verified: str = ""

    def as_dict(self) -> dict:
        """JSON-ready: name, path, sha256, engine settings and the llama-cpp-python version."""
        return {
            "name": self.name,
            "path": self.path,
            "sha256": self.sha256,
            "llama_cpp_python": llama_cpp_version(),
            "settings": dict(self.settings),
        }


def open_engine(
    options: EngineOptions | None = None,
    *,
    fit: ContextDemand | None = None,
    progress: ProgressFn | None = None,
) -> tuple[Engine, ModelInfo]:
    """Resolve the model, pull it if needed, and load it once; returns (Engine, ModelInfo).

    Registry settings (context size, chat template, suggested GPU layers) apply where
    `options` leaves them None. With ``options.prefix_cache``, system-prompt KV states
    are kept on disk under the cache dir (one folder per model sha256) so later
    processes skip re-evaluating them.

    With `fit`, the context is sized for those prompts after the weights are loaded and
    before the context is made (`Engine`'s ``size_context``): a default context that is
    too small grows to the need plus ``fit.reserve``, rounded up to 256 tokens, with one
    warning; a context size given in ``options.n_ctx`` is kept, or refused when the
    prompts do not fit it.

    Raises:
        ContextTooSmallError: ``options.n_ctx`` is smaller than the prompts of `fit` need.
        DiscaError: the model cannot be resolved, verified or loaded.
    """
    options = options or EngineOptions()
    spec, path = resolve_model(options.model, progress=progress)
    checked = verify_model(spec, path, progress)  # the digest checked now, and how
    sha = checked.sha256
    resolved = dataclasses.replace(
        options,
        n_ctx=options.n_ctx or (spec.n_ctx if spec else DEFAULT_N_CTX),
        n_gpu_layers=(spec.n_gpu_layers if spec else 0)
        if options.n_gpu_layers is None
        else options.n_gpu_layers,
        chat_template=options.chat_template or (spec.chat_template if spec else None),
    )
    engine = Engine(
        path,
        resolved,
        prefix_cache_dir=_prefix_cache_dir(sha) if options.prefix_cache else None,
        size_context=None if fit is None else _sizer(fit, options.n_ctx, resolved.n_ctx or 0),
    )
    name = spec.name if spec else path.name
    info = ModelInfo(name=name, path=str(path), sha256=sha, settings=engine.settings,
                     verified=checked.how)  # fmt: skip
    return engine, info


def _prefix_cache_dir(sha: str) -> Path | None:
    """The model's folder of prefix KV states, or None when the cache cannot be written."""
    kv_dir = cache_dir() / "kv" / sha[:32]
    try:
        check_writable_dir(kv_dir)
    except PlaceError as exc:  # a read-only cache: the run still works, just not warm
        log.warning("prefix cache off: %s", exc)
        return None
    return kv_dir


def _sizer(fit: ContextDemand, chosen: int | None, default: int) -> Callable[[ChatTokens], int]:
    """The `Engine` ``size_context`` hook: the context size for `fit`'s prompts.

    Args:
        fit: the prompts of the run.
        chosen: the context size the user gave (None: size it).
        default: the registry's (or the engine's) context size.
    """

    def size(chat: ChatTokens) -> int:
        need = fit.tokens(chat)
        if chosen is not None:
            if need > chosen:
                raise ContextTooSmallError(
                    f"--n-ctx {chosen} is too small for these prompts: they need {need} "
                    f"tokens (the largest panel's system prompts and its longest dilemma); "
                    f"give --n-ctx {_round_up(need)} or more, or leave it out to size the "
                    "context for the prompts"
                )
            return chosen
        want = need + fit.reserve
        if want <= default:
            return default
        log.warning(
            "warning: the prompts need about %d context tokens (the largest panel and its "
            "longest dilemma); sizing the context up from %d to %d before the run",
            want, default, _round_up(want),
        )  # fmt: skip
        return _round_up(want)

    return size


def _round_up(tokens: int) -> int:
    return -(-tokens // CONTEXT_STEP) * CONTEXT_STEP
