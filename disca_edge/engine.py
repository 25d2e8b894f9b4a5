"""The GGUF engine: chat prompts in, decision-token logits out, with shared KV-cache prefixes.

DISCA reads only two logits (tokens ``A`` and ``B``) at the last position of
10 prompts per scenario. Those prompts overlap heavily: five system prompts
(base + four personas) recur in every scenario, and the two option orders of a
scenario agree up to the first swapped label. The engine therefore

* keeps each system-prompt prefix resident in the KV cache as a *pinned*
  sequence (evaluated once, reused for every later prompt that starts with it);
* lays the remaining suffixes of many prompts out as a token trie, so any
  token two prompts share is decoded once and belongs to every sequence below
  it (llama.cpp multi-sequence batches, unified KV cache);
* attaches the pinned prefix to each prompt's sequence with
  ``llama_memory_seq_cp`` (no compute in a unified cache), decodes the whole
  trie in as few ``llama_decode`` calls as ``n_batch`` allows, reads one logits
  row per prompt and drops the suffix cells again with ``llama_memory_seq_rm``.

This module is the only one that imports ``llama_cpp`` (lazily).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DiscaError
from .paths import atomic_write_bytes

__all__ = [
    "ChatPrompt",
    "Engine",
    "EngineStats",
    "LogitsAB",
    "PromptTooLongError",
    "llama_cpp_version",
]

log = logging.getLogger(__name__)

_PINNED_SLOTS = 16  # sequence ids 0..15 hold resident system-prompt prefixes


class PromptTooLongError(DiscaError):
    """A prompt does not fit in the context window."""


@dataclass(frozen=True)
class ChatPrompt:
    """One two-turn chat: a system text and a user text (the generation prompt is added)."""

    system: str
    user: str


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
    prefixes_loaded: int = 0  # pinned prefixes restored from saved KV state

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
        }


def llama_cpp_version() -> str:
    """Installed llama-cpp-python version (without importing the native library)."""
    from importlib.metadata import PackageNotFoundError, version

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
    return llama_cpp, internals


@dataclass
class _Node:
    """A trie node: one token at one position, shared by every sequence below it."""

    token: int
    children: dict = field(default_factory=dict)
    seqs: list = field(default_factory=list)
    prompts: list = field(default_factory=list)  # prompt indices whose last token is here


class Engine:
    """A GGUF model with a shared-prefix KV cache that returns A/B logits for chat prompts.

    Args:
        model_path: path to a ``.gguf`` file.
        n_ctx: context size in tokens (KV cells shared by all sequences).
        n_threads: CPU threads (default: all cores).
        n_batch: most tokens per ``llama_decode`` call.
        n_ubatch: micro-batch. The CPU default is 63: ggml's CPU flash attention switches
            to a tiled kernel at 64 queries, whose rounding depends on which other tokens
            share the micro-batch. Small quantised models amplify that into logit shifts
            of up to ~0.5, so shared-prefix results would no longer equal isolated
            evaluation. Below 64 every query row takes the same per-row kernel and the
            engine is bit-identical to evaluating each prompt alone. With GPU offload
            the default is `n_batch`.
        n_gpu_layers: layers to offload (-1 = all, on Metal/CUDA builds; 0 = CPU).
        n_seq_max: sequence ids in the context (pinned prefixes + prompts in flight).
        chat_template: Jinja template overriding the one in the GGUF metadata.
        seed: recorded for reproducibility; decoding reads logits and never samples.
        prefix_cache_dir: if set, the KV state of every pinned prefix is saved there
            (one file per prefix, keyed by the token sequence) and loaded instead of
            re-evaluated by later processes. Use one folder per model file, as the
            state is only valid for the weights that produced it.
    """

    def __init__(
        self,
        model_path: str | os.PathLike,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_batch: int = 512,
        n_gpu_layers: int = 0,
        n_ubatch: int | None = None,
        n_seq_max: int = 128,
        chat_template: str | None = None,
        seed: int = 0,
        prefix_cache_dir: str | os.PathLike | None = None,
    ) -> None:
        llama_cpp, internals = _import_llama()
        self._llama = llama_cpp
        self.model_path = Path(model_path)
        if n_seq_max <= _PINNED_SLOTS + 1 or n_seq_max > 256:
            raise ValueError(f"n_seq_max must be in ({_PINNED_SLOTS + 1}, 256], got {n_seq_max}")
        threads = n_threads or os.cpu_count() or 1
        on_cpu = int(n_gpu_layers) == 0
        if n_ubatch is None:
            n_ubatch = min(n_batch, 63) if on_cpu else n_batch
        flash_attn = 1 if on_cpu else -1  # CPU: always the (exact) per-row FA kernel
        self.settings = {
            "n_ctx": int(n_ctx),
            "n_threads": int(threads),
            "n_batch": int(n_batch),
            "n_ubatch": int(n_ubatch),
            "flash_attn": flash_attn,
            "n_gpu_layers": int(n_gpu_layers),
            "n_seq_max": int(n_seq_max),
            "seed": int(seed),
            "kv_unified": True,
        }
        model_params = llama_cpp.llama_model_default_params()
        model_params.n_gpu_layers = int(n_gpu_layers)
        try:
            self._model = internals.LlamaModel(
                path_model=str(self.model_path), params=model_params, verbose=False
            )
        except ValueError as exc:
            raise DiscaError(
                f"{self.model_path}: llama.cpp could not load the model ({exc})"
            ) from None

        ctx_params = llama_cpp.llama_context_default_params()
        ctx_params.n_ctx = int(n_ctx)
        ctx_params.n_batch = int(n_batch)
        ctx_params.n_ubatch = int(n_ubatch)
        ctx_params.n_threads = int(threads)
        ctx_params.n_threads_batch = int(threads)
        ctx_params.n_seq_max = int(n_seq_max)
        ctx_params.kv_unified = True
        ctx_params.no_perf = True
        ctx_params.flash_attn_type = int(flash_attn)
        from llama_cpp._utils import suppress_stdout_stderr

        with suppress_stdout_stderr(disable=False):
            self._ctx = llama_cpp.llama_init_from_model(self._model.model, ctx_params)
        if not self._ctx:
            raise DiscaError(
                f"{self.model_path}: llama.cpp could not create a context (n_ctx={n_ctx})"
            )
        self._mem = llama_cpp.llama_get_memory(self._ctx)
        self.n_ctx = int(llama_cpp.llama_n_ctx(self._ctx))
        self.n_batch = int(n_batch)
        self.n_seq_max = int(n_seq_max)
        self.n_vocab = self._model.n_vocab()
        self._batch = llama_cpp.llama_batch_init(self.n_batch, 0, self.n_seq_max)

        self.metadata = self._model.metadata()
        self._template_source = chat_template or self.metadata.get("tokenizer.chat_template")
        if not self._template_source:
            raise DiscaError(
                f"{self.model_path}: the GGUF has no chat template; give one with "
                "`chat_template` in models.toml"
            )
        self._bos_text = self._token_text(self._model.token_bos())
        self._eos_text = self._token_text(self._model.token_eos())
        self._formatter = self._make_formatter(self._template_source)
        self.system_role = self._probe_system_role()

        self.prefix_cache_dir = Path(prefix_cache_dir) if prefix_cache_dir else None
        self._pinned: OrderedDict[tuple[int, ...], int] = OrderedDict()  # prefix -> seq id
        self._decision_cache: dict[str, tuple[int, int]] = {}
        self._prefix_cache: dict[str, str] = {}
        self.stats = EngineStats()

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Free the context, batch and model (idempotent)."""
        llama_cpp = self._llama
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

    # ------------------------------------------------------------------ templates
    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self._model.token_get_text(token)

    def _make_formatter(self, source: str):
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        return Jinja2ChatFormatter(
            template=source,
            eos_token=self._eos_text,
            bos_token=self._bos_text,
            add_generation_prompt=True,
        )

    def _apply_template(self, messages: list[dict]) -> str:
        # enable_thinking=False turns off "thinking" modes in templates that have one (spec §10).
        return self._formatter(messages=messages, enable_thinking=False).prompt

    def _probe_system_role(self) -> bool:
        sentinel_sys, sentinel_user = "\x01SYSTEM\x01", "\x01USER\x01"
        try:
            text = self._apply_template(
                [
                    {"role": "system", "content": sentinel_sys},
                    {"role": "user", "content": sentinel_user},
                ]
            )
        except Exception:  # templates that reject a system role raise
            return False
        return sentinel_sys in text and sentinel_user in text

    def render(self, prompt: ChatPrompt) -> str:
        """The full chat-templated text of a prompt, generation prompt included.

        Templates without a system role get the system text prepended to the user
        turn, separated by a blank line (spec §2.1).
        """
        if self.system_role:
            messages = [
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": prompt.user},
            ]
        else:
            messages = [{"role": "user", "content": f"{prompt.system}\n\n{prompt.user}"}]
        return self._apply_template(messages)

    # ------------------------------------------------------------------ tokens
    def tokenize(self, text: str) -> list[int]:
        """Tokenise rendered text, parsing special tokens and never adding a second BOS."""
        add_bos = bool(self._model.add_bos_token()) and not (
            self._bos_text and text.startswith(self._bos_text)
        )
        return self._model.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def decision_tokens(self, text: str, tokens: Sequence[int] | None = None) -> tuple[int, int]:
        """Ids of ``A`` and ``B`` as continuations of `text` (spec §2.4).

        Tokenise F and F+"A"; the id is the first token of F+"A" that differs from F's
        tokens. Cached per prompt ending (the chat template's generation header).
        """
        key = text[-48:]
        if key in self._decision_cache:
            return self._decision_cache[key]
        base = list(tokens) if tokens is not None else self.tokenize(text)
        ids = []
        for letter in ("A", "B"):
            extended = self.tokenize(text + letter)
            pos = next(
                (i for i, (x, y) in enumerate(zip(base, extended, strict=False)) if x != y),
                min(len(base), len(extended)),
            )
            if pos < len(base) or pos >= len(extended):
                raise DiscaError(
                    f"cannot resolve the decision token {letter!r}: it merges into the prompt's "
                    "last token under this template"
                )
            ids.append(int(extended[pos]))
        if ids[0] == ids[1]:
            raise DiscaError("decision tokens A and B resolve to the same id")
        self._decision_cache[key] = (ids[0], ids[1])
        return ids[0], ids[1]

    def _prefix_text(self, prompt: ChatPrompt, rendered: str) -> str:
        """Rendered text up to where the user content starts (the reusable system prefix).

        Found template-agnostically: render the same system text with a sentinel user turn
        and keep the common start of the two renderings.
        """
        cached = self._prefix_cache.get(prompt.system)
        if cached is None:
            probe = self.render(ChatPrompt(system=prompt.system, user="\x02"))
            cached = os.path.commonprefix([probe, probe.replace("\x02", "\x03")])
            self._prefix_cache[prompt.system] = cached
        return os.path.commonprefix([cached, rendered])

    # ------------------------------------------------------------------ KV helpers
    def _decode_items(self, items: list[tuple[int, int, list[int], bool]], on_row) -> None:
        """Decode (token, pos, seq_ids, want_logits) items in order.

        Items must come after every token they attend to (trie pre-order). They are
        split into llama_decode calls of at most n_batch tokens; after each call
        `on_row(item_index, batch_row)` is invoked for the items that want logits
        (a row is only valid until the next decode).
        """
        llama_cpp = self._llama
        batch = self._batch
        for start in range(0, len(items), self.n_batch):
            chunk = items[start : start + self.n_batch]
            batch.n_tokens = len(chunk)
            for i, (token, pos, seqs, want) in enumerate(chunk):
                batch.token[i] = token
                batch.pos[i] = pos
                batch.n_seq_id[i] = len(seqs)
                seq_row = batch.seq_id[i]
                for k, s in enumerate(seqs):
                    seq_row[k] = s
                batch.logits[i] = 1 if want else 0
            rc = llama_cpp.llama_decode(self._ctx, batch)
            self.stats.decode_calls += 1
            self.stats.tokens_evaluated += len(chunk)
            if rc != 0:
                raise DiscaError(
                    f"llama_decode failed (code {rc}): the KV cache is full or the batch is invalid"
                )
            for i, (_, _, _, want) in enumerate(chunk):
                if want:
                    on_row(start + i, i)

    def _decode_trie(
        self, sequences: list[tuple[list[int], int, list[int]]], want_logits: bool = True
    ) -> dict[int, np.ndarray]:
        """Decode token sequences that continue existing cache content, sharing common tokens.

        Args:
            sequences: (tokens, start_pos, seq_ids) per sequence. `tokens` start at
                position `start_pos`; every token is assigned to all `seq_ids`.
            want_logits: read the logits row at each sequence's last token.

        Returns:
            {sequence index: full logits row (ndarray[n_vocab], float32) at its last token}.
        """
        llama_cpp = self._llama
        roots: dict[tuple[int, int], _Node] = {}
        for idx, (tokens, start_pos, seq_ids) in enumerate(sequences):
            node = None
            level = roots
            for offset, tok in enumerate(tokens):
                key = (start_pos + offset, tok) if node is None else tok
                nxt = level.get(key)
                if nxt is None:
                    nxt = _Node(token=tok)
                    level[key] = nxt
                for s in seq_ids:
                    if s not in nxt.seqs:
                        nxt.seqs.append(s)
                node, level = nxt, nxt.children
            if node is not None:
                node.prompts.append(idx)

        items: list[tuple[int, int, list[int], bool]] = []
        owners: list[list[int]] = []
        stack = [(pos, node) for (pos, _), node in reversed(list(roots.items()))]
        while stack:
            pos, node = stack.pop()
            items.append((node.token, pos, node.seqs, want_logits and bool(node.prompts)))
            owners.append(node.prompts)
            for child in reversed(list(node.children.values())):
                stack.append((pos + 1, child))

        out: dict[int, np.ndarray] = {}

        def on_row(item_index: int, row: int) -> None:
            ptr = llama_cpp.llama_get_logits_ith(self._ctx, row)
            logits = np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy()
            for prompt_index in owners[item_index]:
                out[prompt_index] = logits

        self._decode_items(items, on_row)
        return out

    def _ensure_pinned(
        self, prefixes: list[tuple[int, ...]], keep: set[tuple[int, ...]], extra_cells: int = 0
    ) -> None:
        """Make every prefix resident as a pinned sequence, evicting least recently used ones.

        Eviction also frees room for `extra_cells` suffix tokens about to be decoded.
        """
        missing = [p for p in dict.fromkeys(prefixes) if p and p not in self._pinned]
        for prefix in prefixes:
            if prefix in self._pinned:
                self._pinned.move_to_end(prefix)
        free_ids = sorted(set(range(_PINNED_SLOTS)) - set(self._pinned.values()))
        while (
            len(free_ids) < len(missing)
            or self._cells_needed(missing) + extra_cells > self._free_cells()
        ):
            victim = next((p for p in self._pinned if p not in keep), None)
            if victim is None:
                raise PromptTooLongError(
                    f"the system prompts need {self._cells_needed(missing)} more tokens than the "
                    f"{self.n_ctx}-token context can hold; raise n_ctx"
                )
            seq = self._pinned.pop(victim)
            self._llama.llama_memory_seq_rm(self._mem, seq, -1, -1)
            free_ids.append(seq)
            free_ids.sort()
        if not missing:
            return
        jobs = []
        for prefix in missing:
            seq = free_ids.pop(0)
            self._pinned[prefix] = seq
            if not self._load_prefix_state(prefix, seq):
                jobs.append((list(prefix), 0, [seq]))
        self._decode_trie(jobs, want_logits=False)
        for tokens, _, (seq,) in jobs:
            self._save_prefix_state(tuple(tokens), seq)

    def _prefix_state_file(self, prefix: tuple[int, ...]) -> Path | None:
        if self.prefix_cache_dir is None:
            return None
        key = hashlib.sha256(np.asarray(prefix, dtype=np.int64).tobytes()).hexdigest()[:32]
        return self.prefix_cache_dir / f"{key}.kv"

    def _load_prefix_state(self, prefix: tuple[int, ...], seq: int) -> bool:
        """Restore a pinned prefix from its saved KV state; False if absent or unusable."""
        path = self._prefix_state_file(prefix)
        if path is None or not path.is_file():
            return False
        data = path.read_bytes()
        buffer = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        if self._llama.llama_state_seq_set_data(self._ctx, buffer, len(data), seq) == 0:
            log.warning("ignoring unusable prefix state %s", path)
            self._llama.llama_memory_seq_rm(self._mem, seq, -1, -1)
            return False
        if self._llama.llama_memory_seq_pos_max(self._mem, seq) != len(prefix) - 1:
            self._llama.llama_memory_seq_rm(self._mem, seq, -1, -1)
            return False
        self.stats.prefixes_loaded += 1
        return True

    def _save_prefix_state(self, prefix: tuple[int, ...], seq: int) -> None:
        path = self._prefix_state_file(prefix)
        if path is None or path.exists():
            return
        size = self._llama.llama_state_seq_get_size(self._ctx, seq)
        buffer = (ctypes.c_uint8 * size)()
        written = self._llama.llama_state_seq_get_data(self._ctx, buffer, size, seq)
        if written:
            atomic_write_bytes(path, bytes(buffer[:written]))

    def _cells_needed(self, prefixes) -> int:
        return sum(len(p) for p in prefixes)

    def _used_cells(self) -> int:
        # Resident cells: the pinned prefixes (suffix cells are always released after a call).
        return sum(len(p) for p in self._pinned)

    def _free_cells(self) -> int:
        return self.n_ctx - self._used_cells()

    # ------------------------------------------------------------------ public API
    def logits_ab(self, prompts: Sequence[ChatPrompt]) -> LogitsAB:
        """Decision-token logits for each chat prompt, sharing every common prefix.

        Args:
            prompts: P chat prompts.

        Returns:
            LogitsAB with (P,)-shaped arrays, in input order.

        Raises:
            PromptTooLongError: a prompt does not fit the context window.
        """
        n = len(prompts)
        texts: list[str] = []
        tokens: list[list[int]] = []
        prefixes: list[tuple[int, ...]] = []
        ids = np.zeros((n, 2), dtype=np.int64)
        for i, prompt in enumerate(prompts):
            text = self.render(prompt)
            toks = self.tokenize(text)
            if len(toks) + 8 > self.n_ctx:
                raise PromptTooLongError(
                    f"prompt {i} is {len(toks)} tokens long; the context holds {self.n_ctx} "
                    "(raise n_ctx or shorten the dilemma)"
                )
            prefix_toks = self.tokenize(self._prefix_text(prompt, text))
            common = 0
            for a, b in zip(prefix_toks, toks, strict=False):
                if a != b:
                    break
                common += 1
            common = min(common, len(toks) - 1)  # the last token is always decoded
            texts.append(text)
            tokens.append(toks)
            prefixes.append(tuple(toks[:common]))
            ids[i] = self.decision_tokens(text, toks)

        logit_a = np.empty(n, dtype=np.float64)
        logit_b = np.empty(n, dtype=np.float64)
        for group, suffix_cells in self._groups(tokens, prefixes):
            needed = [prefixes[i] for i in group]
            self._ensure_pinned(needed, keep=set(needed), extra_cells=suffix_cells)
            leaf_ids = {}
            jobs = []
            for i in group:
                key = tuple(tokens[i])
                if key not in leaf_ids:
                    leaf_ids[key] = _PINNED_SLOTS + len(leaf_ids)
                    seq = leaf_ids[key]
                    if prefixes[i]:
                        self._llama.llama_memory_seq_cp(
                            self._mem, self._pinned[prefixes[i]], seq, -1, -1
                        )
                jobs.append((tokens[i][len(prefixes[i]) :], len(prefixes[i]), [leaf_ids[key]]))
            try:
                rows = self._decode_trie(jobs)
            finally:
                for seq in leaf_ids.values():
                    self._llama.llama_memory_seq_rm(self._mem, seq, -1, -1)
            for j, i in enumerate(group):
                logit_a[i] = rows[j][ids[i, 0]]
                logit_b[i] = rows[j][ids[i, 1]]
            self.stats.prompts += len(group)
            self.stats.prompt_tokens += sum(len(tokens[i]) for i in group)
        return LogitsAB(
            logit_a=logit_a,
            logit_b=logit_b,
            token_a=ids[:, 0].copy(),
            token_b=ids[:, 1].copy(),
            texts=texts,
            n_tokens=np.array([len(t) for t in tokens], dtype=np.int64),
        )

    def _groups(self, tokens, prefixes):
        """Split prompt indices into groups that fit the free sequence ids and KV cells.

        Yields (prompt indices, suffix cells the group's trie needs).

        Cells are counted exactly: a suffix costs only the trie nodes it adds to the
        group (tokens it shares with an earlier prompt of the group are free).
        """
        leaf_slots = self.n_seq_max - _PINNED_SLOTS
        budget = self.n_ctx - 16
        group: list[int] = []
        tries: dict = {}
        leaves: set = set()
        cells = 0
        for i in range(len(tokens)):
            prefix = prefixes[i]
            suffix = tokens[i][len(prefix) :]
            new_leaf = tuple(tokens[i]) not in leaves
            extra, node = (0 if prefix in tries else len(prefix)), tries.get(prefix, {})
            for tok in suffix:
                if node is None or tok not in node:
                    extra += 1
                    node = None
                else:
                    node = node[tok]
            if group and ((new_leaf and len(leaves) >= leaf_slots) or cells + extra > budget):
                yield group, cells - sum(len(p) for p in tries)
                group, tries, leaves, cells = [], {}, set(), 0
                extra = len(prefix) + len(suffix)
            node = tries.setdefault(prefix, {})
            for tok in suffix:
                node = node.setdefault(tok, {})
            leaves.add(tuple(tokens[i]))
            group.append(i)
            cells += extra
        if group:
            yield group, cells - sum(len(p) for p in tries)

    def logits_ab_isolated(self, prompts: Sequence[ChatPrompt]) -> LogitsAB:
        """Reference path: each prompt evaluated alone from an empty cache (no sharing).

        Clears the whole KV cache, pinned prefixes included. Used by the exactness test.
        """
        self.clear()
        n = len(prompts)
        out = np.empty((n, 2), dtype=np.float64)
        ids = np.zeros((n, 2), dtype=np.int64)
        texts, lengths = [], []
        for i, prompt in enumerate(prompts):
            text = self.render(prompt)
            toks = self.tokenize(text)
            ids[i] = self.decision_tokens(text, toks)
            rows = self._decode_trie([(toks, 0, [_PINNED_SLOTS])])
            self._llama.llama_memory_seq_rm(self._mem, _PINNED_SLOTS, -1, -1)
            out[i] = rows[0][ids[i, 0]], rows[0][ids[i, 1]]
            texts.append(text)
            lengths.append(len(toks))
        return LogitsAB(out[:, 0], out[:, 1], ids[:, 0], ids[:, 1], texts, np.array(lengths))

    def clear(self) -> None:
        """Drop everything from the KV cache, pinned prefixes included."""
        self._llama.llama_memory_clear(self._mem, True)
        self._pinned.clear()
