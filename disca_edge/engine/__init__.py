"""The GGUF engine: chat prompts in, decision-token logits out, with shared KV-cache prefixes.

DISCA reads two logits (``A``, ``B``) at the last position of 10 prompts per scenario,
which overlap heavily: five system prompts recur in every scenario, and the two option
orders agree up to the first swapped label. The engine therefore

* keeps each system-prompt prefix resident as a *pinned* sequence (`kvcache`);
* lays the remaining suffixes out as a token trie rooted at their pinned prefix,
  so a token two prompts share *in the same context* is decoded once and belongs
  to every sequence below it (`plan`, pure and tested without a model);
* attaches the pinned prefix to each prompt's sequence with ``llama_memory_seq_cp``
  (no compute in a unified cache), decodes the trie in as few ``llama_decode``
  calls as ``n_batch`` allows, reads one logits row per prompt and drops the suffix
  cells again with ``llama_memory_seq_rm``.

Chat templates and tokens live in `chat`, hardware decisions in `hardware`. This
package is the only one that imports ``llama_cpp`` (lazily).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DiscaError
from . import hardware
from .chat import ChatPrompt, ChatTokens
from .hooks import GraphHooks
from .kvcache import PINNED_SLOTS, PinnedPrefixes
from .options import CONTEXT_RESERVE, DEFAULT_N_CTX, GROUP_CELLS, EngineOptions
from .plan import Step, plan

__all__ = [
    "CONTEXT_RESERVE",
    "GROUP_CELLS",
    "KV_TYPES",
    "ChatPrompt",
    "ChatTokens",
    "DEFAULT_N_CTX",
    "Engine",
    "EngineOptions",
    "EngineStats",
    "GraphHooks",
    "LogitsAB",
    "PromptTooLongError",
    "llama_cpp_version",
]

log = logging.getLogger(__name__)

#: KV-cache element types the engine accepts (``type_k`` and ``type_v``).
KV_TYPES = ("f16", "q8_0", "bf16", "f32")
_GGML_TYPE = {"f32": 0, "f16": 1, "q8_0": 8, "bf16": 30}


class PromptTooLongError(DiscaError):
    """A prompt does not fit in the context window."""


@dataclass(frozen=True)
class LogitsAB:
    """Decision-token logits for P prompts.

    Attributes:
        logit_a (ndarray[P]): raw logit of the ``A`` token at the last prompt position.
        logit_b (ndarray[P]): raw logit of the ``B`` token.
        token_a (ndarray[P]): resolved id of ``A`` for each prompt (spec §2.4).
        token_b (ndarray[P]): resolved id of ``B``.
        texts (list[str]): the exact rendered text that was tokenised, chat template included.
        n_tokens (ndarray[P]): prompt length in tokens.
    """

    logit_a: np.ndarray
    logit_b: np.ndarray
    token_a: np.ndarray
    token_b: np.ndarray
    texts: list[str]
    n_tokens: np.ndarray


@dataclass
class EngineStats:
    """Counters for benchmarks: how much work the shared-prefix layout saved."""

    prompts: int = 0
    prompt_tokens: int = 0  # sum of full prompt lengths
    tokens_evaluated: int = 0  # tokens actually decoded
    decode_calls: int = 0
    prefixes_loaded: int = 0  # pinned prefixes restored from a state file
    prefixes_decoded: int = 0  # pinned prefixes computed
    visible_cells: int = 0  # sum over decode calls of the KV cells in use after the call

    @property
    def tokens_reused(self) -> int:
        """Prompt tokens served from the cache or from a shared trie node."""
        return self.prompt_tokens - self.tokens_evaluated

    def as_dict(self) -> dict:
        """The counters as a JSON-ready mapping."""
        return {
            "prompts": self.prompts,
            "prompt_tokens": self.prompt_tokens,
            "tokens_evaluated": self.tokens_evaluated,
            "tokens_reused": self.tokens_reused,
            "decode_calls": self.decode_calls,
            "prefixes_loaded": self.prefixes_loaded,
            "prefixes_decoded": self.prefixes_decoded,
            "visible_cells": self.visible_cells,
        }


def llama_cpp_version() -> str:
    """Installed llama-cpp-python version (without importing the native library)."""
    try:
        return version("llama-cpp-python")
    except PackageNotFoundError:
        return "not installed"


def _import_llama():
    try:
        import llama_cpp
        import llama_cpp._internals as internals
        from llama_cpp._logger import set_verbose
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DiscaError(
            f"llama-cpp-python is not importable ({exc}); install it with "
            "`pip install 'llama-cpp-python>=0.3.30,<0.4'`"
        ) from None
    set_verbose(False)
    hardware.warn_if_untested(llama_cpp_version())
    return llama_cpp, internals


def _engine_settings(llama_cpp: Any, options: EngineOptions) -> dict[str, Any]:
    """The engine's settings: its options with the defaults the llama.cpp build implies.

    The compute path (CPU or GPU offload, flash attention, default KV type) and the extra
    weight buffers follow the build and the CPU (`hardware`); see `Engine` for each.

    Raises:
        ValueError: an unknown KV type, or a quantised one with flash attention off.
    """
    buffers = hardware.resolve_extra_buffers(options.extra_buffers)
    features = hardware.cpu_features(llama_cpp.llama_print_system_info().decode(errors="replace"))
    use_extra_bufts = hardware.extra_buffers_on(buffers, features)
    path = hardware.compute_path(
        options.n_gpu_layers or 0, bool(llama_cpp.llama_supports_gpu_offload())
    )
    if path.warning:
        log.warning("%s", path.warning)
    threads = options.n_threads or os.cpu_count() or 1
    kv_type = options.kv_type or path.kv_type
    if kv_type not in KV_TYPES:
        raise ValueError(f"kv_type must be one of {', '.join(KV_TYPES)}; got {kv_type!r}")
    flash_attn = path.flash_attn if options.flash_attn is None else int(options.flash_attn)
    if flash_attn == 0 and kv_type not in ("f16", "bf16", "f32"):
        raise ValueError(f"a {kv_type} KV cache needs flash attention; use kv_type f16 without it")
    n_batch, n_ubatch = options.n_batch, options.n_ubatch
    if n_ubatch is None:
        n_ubatch = n_batch if path.on_gpu or kv_type not in ("f16", "f32") else min(n_batch, 63)
    return {
        "n_ctx": int(options.n_ctx or DEFAULT_N_CTX),
        "n_threads": int(threads),
        "n_batch": int(n_batch),
        "n_ubatch": int(n_ubatch),
        "flash_attn": flash_attn,
        "n_gpu_layers": path.n_gpu_layers,
        "n_seq_max": int(options.n_seq_max),
        "kv_type": kv_type,
        "extra_buffers": buffers,
        "use_extra_bufts": use_extra_bufts,
        "seed": int(options.seed),
        "kv_unified": True,
    }


class Engine:
    """A GGUF model with a shared-prefix KV cache that returns A/B logits for chat prompts.

    The options (`EngineOptions`; the model name in them is not read here) act as follows.

    * ``n_ctx``: KV cells shared by all sequences; ``n_batch``: most tokens per
      ``llama_decode`` call; ``n_seq_max``: pinned prefixes + prompts in flight.
    * ``n_ubatch``: micro-batch (default `n_batch`; 63 with an f16 or f32 KV cache on the
      CPU). Exactness on the CPU rests on ggml's per-row flash-attention kernel, whose
      result for a query does not depend on which other tokens share the micro-batch or
      where other sequences' cells sit. With an f16/f32 cache, ggml switches to a tiled
      kernel at 64 queries (and a split-KV kernel for a lone query over 512+ cells), whose
      rounding does depend on the layout; small quantised models amplify that into logit
      shifts of up to ~0.5.
    * ``n_gpu_layers``: -1 = all, on Metal/CUDA builds; 0 = CPU. On a build without GPU
      offload a warning is logged and the CPU path is used.
    * ``kv_type``: one of `KV_TYPES` (default: ``q8_0`` on the CPU, where ggml only ever
      runs the per-row kernel for it, so any micro-batch is bit-identical to isolated
      evaluation on SmolLM2 (not on Gemma-3-270M: up to 0.87 logits, see the README);
      ``f16`` with GPU offload).
    * ``group_cells``: a prompt longer than this gets a group of its own. llama.cpp's
      attention scans every used cell for every token, so smaller groups cost less per
      token but share fewer tokens; `GROUP_CELLS` measured best on SmolLM2
      (benchmarks/engine.py). ``only_group_prefixes``: keep only the current group's
      pinned prefixes resident (restored from an in-memory copy of their state when
      needed again), so no group scans other groups' prefix cells.
    * ``extra_buffers``: llama.cpp's extra weight buffer types (CPU repacking): ``auto``
      (off where the CPU reports AMX, on elsewhere), ``on`` or ``off``.
    * ``chat_template``: Jinja template overriding the one in the GGUF metadata.

    Args:
        model_path: path to a ``.gguf`` file.
        options: the engine options (default: `EngineOptions()`).
        prefix_cache_dir: if set, the KV state of every pinned prefix is saved there
            (one checksummed file per prefix and kernel settings) and loaded instead of
            re-evaluated by later processes. Use one folder per model file, as the
            state is only valid for the weights that produced it.
        size_context: called once the weights and the chat template are loaded and
            before the context is made, with the model's `ChatTokens`; returns the
            context size to make (replacing ``options.n_ctx``). So a caller sizes the
            context for its prompts without loading the model twice.
    """

    def __init__(
        self,
        model_path: str | os.PathLike,
        options: EngineOptions | None = None,
        *,
        prefix_cache_dir: str | os.PathLike | None = None,
        size_context: Callable[[ChatTokens], int] | None = None,
    ) -> None:
        options = options or EngineOptions()
        llama_cpp, internals = _import_llama()
        self._llama = llama_cpp
        self.model_path = Path(model_path)
        n_seq_max = options.n_seq_max
        if n_seq_max <= PINNED_SLOTS + 1 or n_seq_max > 256:
            raise ValueError(f"n_seq_max must be in ({PINNED_SLOTS + 1}, 256], got {n_seq_max}")
        n_ctx, n_batch = options.n_ctx or DEFAULT_N_CTX, options.n_batch
        if min(n_ctx, n_batch) < n_seq_max:  # llama.cpp would abort the process (GGML_ASSERT)
            raise DiscaError(
                f"{'n_ctx' if n_ctx < n_seq_max else 'n_batch'}={min(n_ctx, n_batch)} is too "
                f"small: llama.cpp needs at least {n_seq_max} (n_seq_max) and a DISCA prompt "
                "several hundred tokens; use a context of 512 or more"
            )
        self.settings = _engine_settings(llama_cpp, options)
        self._hooks: GraphHooks | None = None
        self._model = self._load_model(internals)
        try:
            self._attach_chat(options.chat_template)
            if size_context is not None:
                self.settings["n_ctx"] = int(size_context(self.chat))
            self._ctx = self._new_context()
        except BaseException:
            self.close()
            raise
        self._mem = llama_cpp.llama_get_memory(self._ctx)
        self.n_ctx = int(llama_cpp.llama_n_ctx(self._ctx))
        self.n_batch = int(options.n_batch)
        self.n_seq_max = int(n_seq_max)
        self.n_vocab = self._model.n_vocab()
        budget = self.n_ctx - CONTEXT_RESERVE
        group_cells = options.group_cells
        self.group_cells = min(budget, int(group_cells)) if group_cells else budget
        self.settings["group_cells"] = self.group_cells
        self.settings["only_group_prefixes"] = bool(options.only_group_prefixes)
        self._batch = llama_cpp.llama_batch_init(self.n_batch, 0, self.n_seq_max)
        self.prefix_cache_dir = Path(prefix_cache_dir) if prefix_cache_dir else None
        self.stats = EngineStats()
        self._cells_in_use = 0  # KV cells holding tokens: llama.cpp attends over all of them
        self._prefixes = self._pinned_prefixes(bool(options.only_group_prefixes))

    def _load_model(self, internals: Any) -> Any:
        """The weights, offloaded and repacked as the settings say."""
        model_params = self._llama.llama_model_default_params()
        model_params.n_gpu_layers = self.settings["n_gpu_layers"]
        model_params.use_extra_bufts = self.settings["use_extra_bufts"]
        try:
            return internals.LlamaModel(
                path_model=str(self.model_path), params=model_params, verbose=False
            )
        except ValueError as exc:
            raise DiscaError(
                f"{self.model_path}: llama.cpp could not load the model ({exc})"
            ) from None

    def _new_context(self, cb_eval: Any = None) -> Any:
        """A llama.cpp context with the settings' sizes, threads, kernel and KV type.

        Args:
            cb_eval: an eval callback to install (`ggml.EvalCallback.c_function`; only the
                hooked context of `hooks` has one).
        """
        from llama_cpp._utils import suppress_stdout_stderr  # llama_cpp stays lazy

        llama_cpp, settings = self._llama, self.settings
        ctx_params = llama_cpp.llama_context_default_params()
        ctx_params.n_ctx = settings["n_ctx"]
        ctx_params.n_batch = settings["n_batch"]
        ctx_params.n_ubatch = settings["n_ubatch"]
        ctx_params.n_threads = settings["n_threads"]
        ctx_params.n_threads_batch = settings["n_threads"]
        ctx_params.n_seq_max = settings["n_seq_max"]
        ctx_params.kv_unified = True
        ctx_params.no_perf = True
        ctx_params.flash_attn_type = settings["flash_attn"]
        ctx_params.type_k = ctx_params.type_v = _GGML_TYPE[settings["kv_type"]]
        if cb_eval is not None:
            ctx_params.cb_eval = cb_eval
        with suppress_stdout_stderr(disable=False):
            ctx = llama_cpp.llama_init_from_model(self._model.model, ctx_params)
        if not ctx:
            raise DiscaError(
                f"{self.model_path}: llama.cpp could not create a context "
                f"(n_ctx={settings['n_ctx']}, kv_type={settings['kv_type']})"
            )
        return ctx

    def _attach_chat(self, chat_template: str | None) -> None:
        """Read the GGUF metadata and set up the chat template (`chat`)."""
        self.metadata = self._model.metadata()
        template = chat_template or self.metadata.get("tokenizer.chat_template")
        if not template:
            raise DiscaError(
                f"{self.model_path}: the GGUF has no chat template; give one with "
                "`chat_template` in models.toml"
            )
        self.chat = ChatTokens(self._model, template)
        self.system_role = self.chat.system_role

    def _pinned_prefixes(self, exclusive: bool) -> PinnedPrefixes:
        """The resident system prompts (`kvcache`), their state files keyed by the kernel."""
        kernel_key = "/".join(
            f"{k}={self.settings[k]}" for k in ("n_ubatch", "flash_attn", "kv_type", "n_gpu_layers")
        )
        return PinnedPrefixes(
            self._llama,
            self._ctx,
            self.n_ctx,
            self._decode_prefixes,
            state_dir=self.prefix_cache_dir,
            kernel_key=kernel_key,
            stats=self.stats,
            exclusive=exclusive,
        )

    # ------------------------------------------------------------------ model shape and hooks
    @property
    def n_layer(self) -> int:
        """Transformer blocks in the model (L)."""
        return int(self._llama.llama_model_n_layer(self._model.model))

    @property
    def n_embd(self) -> int:
        """Width of the residual stream (E): the length of a hidden state."""
        return int(self._llama.llama_model_n_embd(self._model.model))

    @property
    def architecture(self) -> str:
        """The GGUF's ``general.architecture`` (``llama``, ``gemma3``, ``phi3``, ...)."""
        return str(self.metadata.get("general.architecture", "unknown"))

    @property
    def hooks(self) -> GraphHooks:
        """Hidden-state capture, steering and emulated dropout (`hooks.GraphHooks`).

        Made on first use: a second context with the same settings and an eval callback,
        so this engine's own context and its pinned prefixes are never touched.
        """
        if self._hooks is None:
            self._hooks = GraphHooks(self)
        return self._hooks

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Free the hooked context, the context, batch and model (idempotent)."""
        llama_cpp = self._llama
        hooks = getattr(self, "_hooks", None)
        if hooks is not None:
            hooks.close()
            self._hooks = None
        if getattr(self, "_batch", None) is not None:
            llama_cpp.llama_batch_free(self._batch)
            self._batch = None
        if getattr(self, "_ctx", None):
            llama_cpp.llama_free(self._ctx)
            self._ctx = None
        if getattr(self, "_model", None) is not None:
            self._model.close()
            self._model = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        with contextlib.suppress(Exception):
            self.close()

    # ------------------------------------------------------------------ chat and tokens
    def render(self, prompt: ChatPrompt) -> str:
        """The full chat-templated text of a prompt, generation prompt included (`chat`)."""
        return self.chat.render(prompt)

    def tokenize(self, text: str) -> list[int]:
        """Tokenise rendered text, parsing special tokens and never adding a second BOS."""
        return self.chat.tokenize(text)

    def decision_tokens(self, text: str, tokens: Sequence[int] | None = None) -> tuple[int, int]:
        """Ids of ``A`` and ``B`` as continuations of `text` (spec §2.4)."""
        return self.chat.decision_tokens(text, tokens)

    def prefix_len(self, system: str) -> int:
        """Tokens of the rendered system prefix of `system`: what the engine keeps resident."""
        return self.chat.prefix_len(system)

    def query_suffix(self, user: str) -> list[int]:
        """Tokens of `user` + end of user turn + assistant header; no BOS, no system turn (`chat`)."""
        return self.chat.query_suffix(user)

    # ------------------------------------------------------------------ decoding
    def _decode(self, steps, on_logits) -> None:
        """Decode (token, pos, seq_ids, prompts) steps in order, n_batch tokens per call.

        Steps must come after every token they attend to. After each call,
        ``on_logits(prompts, row)`` runs for each step with prompts (a logits row is
        only valid until the next decode).
        """
        llama_cpp = self._llama
        batch = self._batch
        for start in range(0, len(steps), self.n_batch):
            chunk = steps[start : start + self.n_batch]
            batch.n_tokens = len(chunk)
            for i, (token, pos, seqs, prompts) in enumerate(chunk):
                batch.token[i] = token
                batch.pos[i] = pos
                batch.n_seq_id[i] = len(seqs)
                seq_row = batch.seq_id[i]
                for k, s in enumerate(seqs):
                    seq_row[k] = s
                batch.logits[i] = 1 if prompts and on_logits else 0
            rc = llama_cpp.llama_decode(self._ctx, batch)
            self.stats.decode_calls += 1
            self.stats.tokens_evaluated += len(chunk)
            self._cells_in_use += len(chunk)
            self.stats.visible_cells += self._cells_in_use
            if rc != 0:
                raise DiscaError(
                    f"llama_decode failed (code {rc}): the KV cache is full or the batch is invalid"
                )
            if on_logits is None:
                continue
            for i, (_, _, _, prompts) in enumerate(chunk):
                if prompts:
                    on_logits(prompts, i)

    def _decode_prefixes(self, steps, cells_in_use: int) -> None:
        self._cells_in_use = cells_in_use
        self._decode([(tok, pos, seqs, ()) for tok, pos, seqs in steps], None)

    def _row(self, row: int) -> np.ndarray:
        ptr = self._llama.llama_get_logits_ith(self._ctx, row)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    # ------------------------------------------------------------------ public API
    def _tokens(self, prompts: Sequence[ChatPrompt]):
        texts, tokens, ids = [], [], np.zeros((len(prompts), 2), dtype=np.int64)
        for i, prompt in enumerate(prompts):
            text = self.render(prompt)
            toks = self.chat.encode(prompt, text)  # the texts literal, the markup special
            if len(toks) + CONTEXT_RESERVE > self.n_ctx:
                raise PromptTooLongError(
                    f"prompt {i} is {len(toks)} tokens long; the context holds {self.n_ctx} "
                    "(raise n_ctx or shorten the dilemma)"
                )
            texts.append(text)
            tokens.append(toks)
            ids[i] = self.chat.decision_tokens(text, toks, prompt)
        return texts, tokens, ids

    def logits_ab(self, prompts: Sequence[ChatPrompt]) -> LogitsAB:
        """Decision-token logits for each chat prompt, sharing every common prefix.

        Bit-identical to `logits_ab_isolated` at the default CPU settings, whatever the
        order of `prompts`.

        Args:
            prompts: P chat prompts.

        Returns:
            LogitsAB with (P,)-shaped arrays, in input order; raises PromptTooLongError
            when a prompt does not fit the context window.
        """
        texts, tokens, ids = self._tokens(prompts)
        pinned = [self.chat.pinned_len(p, t) for p, t in zip(prompts, tokens, strict=True)]
        return self._shared(texts, tokens, ids, pinned)

    def logits_ab_raw(self, texts: Sequence[str], *, isolated: bool = False) -> LogitsAB:
        """LogitsAB[P] of P texts sent as they stand (`ChatTokens.tokenize_raw`), as PRISM's script.

        Nothing is pinned; ``isolated``: each alone from an empty cache. Raises PromptTooLongError.
        """
        tokens, ids = [], np.zeros((len(texts), 2), dtype=np.int64)
        for i, text in enumerate(texts):
            tokens.append(self.chat.tokenize_raw(text))
            if len(tokens[i]) + CONTEXT_RESERVE > self.n_ctx:
                raise PromptTooLongError(f"text {i} is {len(tokens[i])} tokens; n_ctx {self.n_ctx}")
            ids[i] = self.chat.decision_tokens(text, tokens[i], raw=True)
        if isolated:
            return self._isolated(list(texts), tokens, ids)
        return self._shared(list(texts), tokens, ids, [0] * len(texts))

    def _shared(
        self, texts: list[str], tokens: list[list[int]], ids: np.ndarray, pinned: list[int]
    ) -> LogitsAB:
        """Evaluate token lists through the pinned prefixes and the shared trie (`plan`)."""
        out = np.empty((len(tokens), 2), dtype=np.float64)

        def on_logits(owners, row):
            logits = self._row(row)
            for i in owners:
                out[i] = logits[ids[i, 0]], logits[ids[i, 1]]

        groups = plan(
            tokens,
            pinned,
            first_leaf=PINNED_SLOTS,
            leaf_slots=self.n_seq_max - PINNED_SLOTS,
            # group_cells is a speed target, not a limit: a prompt longer than it (native
            # panels run ~1,100 tokens) gets a group to itself; _tokens bounds it by n_ctx.
            cell_budget=max(self.group_cells, max(map(len, tokens), default=0)),
            prefix_slots=PINNED_SLOTS,
            # ... and a prompt that shares most of its group's trie (the other option order
            # of a long dilemma) joins past it, within the context.
            cell_limit=self.n_ctx - CONTEXT_RESERVE,
        )
        seq_cp, seq_rm = self._llama.llama_memory_seq_cp, self._llama.llama_memory_seq_rm
        for group in groups:
            try:
                self._prefixes.prepare(group.prefixes, extra_cells=len(group.steps))
            except ValueError as exc:
                raise PromptTooLongError(f"the prompts do not fit the context: {exc}") from None
            self._cells_in_use = self._prefixes.used_cells
            for leaf, prefix in group.leaves:
                if prefix:
                    seq_cp(self._mem, self._prefixes.seq_of(prefix), leaf, -1, -1)
            try:
                self._decode(group.steps, on_logits)
            finally:
                for leaf, _ in group.leaves:
                    seq_rm(self._mem, leaf, -1, -1)
            self.stats.prompts += len(group.prompts)
            self.stats.prompt_tokens += sum(len(tokens[i]) for i in group.prompts)
        return self._logits_ab_result(out, ids, texts, tokens)

    def logits_ab_isolated(self, prompts: Sequence[ChatPrompt]) -> LogitsAB:
        """Reference path (exactness tests): each prompt alone, the whole KV cache cleared first."""
        texts, tokens, ids = self._tokens(prompts)
        return self._isolated(texts, tokens, ids)

    def _isolated(self, texts: list[str], tokens: list[list[int]], ids: np.ndarray) -> LogitsAB:
        """Evaluate each token list alone from an empty cache."""
        out = np.empty((len(tokens), 2), dtype=np.float64)

        def on_logits(owners, row):
            logits = self._row(row)
            (i,) = owners
            out[i] = logits[ids[i, 0]], logits[ids[i, 1]]

        seq = PINNED_SLOTS
        for i, toks in enumerate(tokens):
            self.clear()
            self._cells_in_use = 0
            steps = [Step(tok, pos, (seq,), ()) for pos, tok in enumerate(toks)]
            steps[-1] = Step(toks[-1], len(toks) - 1, (seq,), (i,))
            self._decode(steps, on_logits)
        self.clear()
        return self._logits_ab_result(out, ids, texts, tokens)

    @staticmethod
    def _logits_ab_result(
        out: np.ndarray, ids: np.ndarray, texts: list[str], tokens: Sequence[Sequence[int]]
    ) -> LogitsAB:
        """`LogitsAB` of logits ndarray[P, 2] and token ids ndarray[P, 2] of P prompts."""
        n_tokens = np.array([len(t) for t in tokens], dtype=np.int64)
        return LogitsAB(logit_a=out[:, 0].copy(), logit_b=out[:, 1].copy(),
                        token_a=ids[:, 0].copy(), token_b=ids[:, 1].copy(),
                        texts=texts, n_tokens=n_tokens)  # fmt: skip

    def clear(self) -> None:
        """Drop everything from the KV cache, pinned prefixes included."""
        self._prefixes.clear()
