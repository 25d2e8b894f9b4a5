"""Opening a model: a ``--model`` value to a verified GGUF, loaded into an `Engine`.

A ``--model`` value is a registry name (pulled on first use) or a path to a ``.gguf``
file; `ModelInfo` is what a result records about the model it came from.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..engine import Engine, llama_cpp_version
from ..errors import DiscaError
from ..paths import PlaceError, cache_dir, check_writable_dir
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

__all__ = ["ModelInfo", "open_engine", "resolve_model", "warn_unlisted_languages"]

log = logging.getLogger(__name__)

_WARNED_LANGUAGES: set[tuple[str, str]] = set()


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
        return spec, pull(spec, progress=progress)
    path = local_path(spec)
    check_gguf(path, spec.size)
    verify_sha256(spec, path, progress)
    return spec, path


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
    name_or_path: str | os.PathLike | None = None,
    *,
    n_threads: int | None = None,
    n_gpu_layers: int | None = None,
    n_ctx: int | None = None,
    seed: int = 0,
    progress: ProgressFn | None = None,
    prefix_cache: bool = False,
    extra_buffers: str | None = None,
):
    """Resolve `--model`, pull it if needed, and load it; returns (Engine, ModelInfo).

    Registry settings (context size, chat template, suggested GPU layers) apply unless
    overridden here. With `prefix_cache`, system-prompt KV states are kept on disk under
    the cache dir (one folder per model sha256) so later processes skip re-evaluating them.
    `extra_buffers` (auto, on, off; None: ``$DISCA_EXTRA_BUFFERS`` or auto) is the engine's
    weight-repacking setting.
    """
    spec, path = resolve_model(name_or_path, progress=progress)
    checked = verify_model(spec, path, progress)  # the digest checked now, and how
    sha = checked.sha256
    kv_dir = cache_dir() / "kv" / sha[:32]
    if prefix_cache:
        try:
            check_writable_dir(kv_dir)
        except PlaceError as exc:  # a read-only cache: ask still works, just not warm
            log.warning("prefix cache off: %s", exc)
            prefix_cache = False
    engine = Engine(
        path,
        n_ctx=n_ctx or (spec.n_ctx if spec else 4096),
        n_threads=n_threads,
        n_gpu_layers=(spec.n_gpu_layers if spec else 0) if n_gpu_layers is None else n_gpu_layers,
        chat_template=spec.chat_template if spec else None,
        seed=seed,
        extra_buffers=extra_buffers,
        prefix_cache_dir=kv_dir if prefix_cache else None,
    )
    name = spec.name if spec else path.name
    info = ModelInfo(name=name, path=str(path), sha256=sha, settings=engine.settings,
                     verified=checked.how)  # fmt: skip
    return engine, info
