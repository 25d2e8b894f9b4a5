"""Hooked evaluation: hidden-state capture, control-vector steering, emulated MC-dropout.

Everything here runs in a second llama.cpp context of the engine's model, made on first
use with the engine's own kernel settings and an eval callback (`ggml.EvalCallback`), so

* the engine's shared-prefix context never carries a callback (its speed and its
  logits are untouched) nor a control vector, and its pinned prefixes stay resident;
* a steered or masked prompt never meets a cached or pinned state: every prompt is
  evaluated alone from an empty cache (as `Engine.logits_ab_isolated`), and nothing
  here is saved to the prefix cache.

With no hook and no control vector, a prompt's logits here are bit-identical to
`Engine.logits_ab_isolated` (tests/integration/test_engine_hooks.py).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DiscaError
from ..interrupts import signals_held
from .chat import ChatPrompt
from .ggml import EvalCallback, Ggml, TensorHook
from .interventions import (
    DropoutMasks,
    control_vector_data,
    dropout_tensor_names,
    layer_tensor,
)
from .options import CONTEXT_RESERVE

if TYPE_CHECKING:  # pragma: no cover
    from . import Engine, LogitsAB

__all__ = ["GraphHooks"]

#: Text whose tokens probe a model's graph for its tensor names.
_PROBE_TEXT = "Hello"


class _NameProbe:
    """Records every node name of a graph evaluation and asks for none."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def wants(self, name: str) -> bool:
        self.names.add(name)
        return False

    def on_tensor(self, tensor: int, name: str) -> None:  # pragma: no cover - never asked
        pass


class _LastRow:
    """Keeps the last row of one graph tensor (the last token's, after the final micro-batch)."""

    def __init__(self, ggml: Ggml, name: str, width: int) -> None:
        self.ggml, self.name, self.width = ggml, name, width
        self.row: np.ndarray | None = None

    def wants(self, name: str) -> bool:
        return name == self.name

    def on_tensor(self, tensor: int, name: str) -> None:
        self.row = self.ggml.read_rows(tensor, self.width)[-1].copy()


class _Dropout:
    """Multiplies each named dropout tensor by its `DropoutMasks` rows, in place."""

    def __init__(self, ggml: Ggml, masks: DropoutMasks, width: int, names: set[str]) -> None:
        self.ggml, self.masks, self.width, self.names = ggml, masks, width, names

    def wants(self, name: str) -> bool:
        return name in self.names

    def on_tensor(self, tensor: int, name: str) -> None:
        kind, layer = layer_tensor(name) or ("", -1)
        rows = self.ggml.read_rows(tensor, self.width)
        rows *= self.masks.scale(kind, layer, rows.shape[0], self.width)
        self.ggml.write(tensor, rows)


def _name_ranges(names: Sequence[str]) -> str:
    """``attn_out-0…17`` style summary of layer tensor names (others listed as they are)."""
    layers: dict[str, list[int]] = {}
    other = []
    for name in names:
        parsed = layer_tensor(name)
        if parsed is None:
            other.append(name)
        else:
            layers.setdefault(parsed[0], []).append(parsed[1])
    parts = [
        f"{kind}-{min(ils)}…{max(ils)}" if len(ils) > 1 else f"{kind}-{ils[0]}"
        for kind, ils in layers.items()
    ]
    return ", ".join(parts + other)


class GraphHooks:
    """An engine's hooked context (see the module docstring); made by `Engine.hooks`.

    It holds a second KV cache of the engine's size (``n_ctx`` cells) until `close`.

    Args:
        engine: the engine whose model, tokens and kernel settings to use.
    """

    def __init__(self, engine: Engine) -> None:
        llama_cpp = engine._llama
        self._engine = engine
        self._llama = llama_cpp
        self.ggml = Ggml(llama_cpp)
        self._callback = EvalCallback(llama_cpp, self.ggml)
        self._ctx = engine._new_context(self._callback.c_function)
        self._mem = llama_cpp.llama_get_memory(self._ctx)
        self._batch = llama_cpp.llama_batch_init(engine.n_batch, 0, 1)
        self.n_layer, self.n_embd = engine.n_layer, engine.n_embd
        self._names: frozenset[str] | None = None
        #: Tokens decoded here so far (every prompt in full: nothing is shared or cached).
        self.tokens_evaluated = 0

    def close(self) -> None:
        """Free the hooked context and its batch (idempotent)."""
        if getattr(self, "_batch", None) is not None:
            self._llama.llama_batch_free(self._batch)
            self._batch = None
        if getattr(self, "_ctx", None):
            self._llama.llama_free(self._ctx)
            self._ctx = None

    # ------------------------------------------------------------------ evaluation
    def logits(self, tokens: Sequence[int], hook: TensorHook | None = None) -> np.ndarray:
        """Evaluate one token sequence alone, from an empty cache, handing tensors to `hook`.

        Args:
            tokens: the token ids, BOS included where wanted.
            hook: what the eval callback hands graph tensors to (None: none).

        Returns:
            ndarray[n_vocab] float32: a copy of the last token's logits.

        Raises:
            ValueError: no tokens, or more than the context holds.
        """
        engine, llama_cpp, batch = self._engine, self._llama, self._batch
        if not tokens or len(tokens) + CONTEXT_RESERVE > engine.n_ctx:
            raise ValueError(
                f"a hooked evaluation needs 1 to {engine.n_ctx - CONTEXT_RESERVE} tokens, "
                f"got {len(tokens)}"
            )
        llama_cpp.llama_memory_clear(self._mem, True)
        self.tokens_evaluated += len(tokens)
        with self._callback.active(hook):
            for start in range(0, len(tokens), engine.n_batch):
                chunk = tokens[start : start + engine.n_batch]
                batch.n_tokens = len(chunk)
                for i, token in enumerate(chunk):
                    batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, start + i, 1
                    batch.seq_id[i][0] = 0
                    batch.logits[i] = start + i == len(tokens) - 1
                with signals_held():  # a Ctrl-C inside the callback would be lost
                    rc = llama_cpp.llama_decode(self._ctx, batch)
                self._callback.raise_pending()
                if rc != 0:
                    raise DiscaError(f"llama_decode failed (code {rc}) in a hooked evaluation")
        row = llama_cpp.llama_get_logits_ith(self._ctx, len(chunk) - 1)
        logits = np.ctypeslib.as_array(row, shape=(engine.n_vocab,)).copy()
        llama_cpp.llama_memory_clear(self._mem, True)
        return logits

    def logits_ab(self, prompts: Sequence[ChatPrompt], hook: TensorHook | None = None) -> LogitsAB:
        """Decision-token logits of chat prompts, each evaluated alone in the hooked context.

        Args:
            prompts: P chat prompts.
            hook: what the eval callback hands graph tensors to, for every prompt (None: none).

        Returns:
            LogitsAB with (P,)-shaped arrays, as `Engine.logits_ab_isolated`.
        """
        return self._logits_ab(prompts, lambda i: hook)

    def _logits_ab(
        self, prompts: Sequence[ChatPrompt], hook_for: Callable[[int], TensorHook | None]
    ) -> LogitsAB:
        """`logits_ab` with prompt i's hook from ``hook_for(i)``."""
        texts, tokens, ids = self._engine._tokens(prompts)
        out = np.empty((len(prompts), 2), dtype=np.float64)
        for i, toks in enumerate(tokens):
            logits = self.logits(toks, hook_for(i))
            out[i] = logits[ids[i, 0]], logits[ids[i, 1]]
        return self._engine._logits_ab_result(out, ids, texts, tokens)

    # ------------------------------------------------------------------ graph names
    def tensor_names(self) -> frozenset[str]:
        """Names of the nodes of this model's graph (``l_out-0``, ``attn_out-0``, ...).

        Found once, by evaluating a few tokens with a recording hook.
        """
        if self._names is None:
            probe = _NameProbe()
            self.logits(self._engine.tokenize(_PROBE_TEXT), probe)
            self._names = frozenset(probe.names)
        return self._names

    def _require(self, names: Sequence[str], purpose: str) -> None:
        """Refuse `purpose` in one line when the graph lacks some of `names`."""
        missing = [name for name in names if name not in self.tensor_names()]
        if missing:
            raise DiscaError(
                f"{purpose} is not available for the {self._engine.architecture} architecture: "
                f"llama.cpp's graph has no {_name_ranges(missing)} tensors"
            )

    # ------------------------------------------------------------------ capture
    def capture(self, token_lists: Sequence[Sequence[int]], layer: int) -> np.ndarray:
        """Block `layer`'s output (``l_out-layer``) at the last token of each sequence.

        Args:
            token_lists: P token sequences (e.g. `Engine.query_suffix` of the steering
                sentences), each evaluated alone.
            layer: 0-based block index, 0 ≤ layer < n_layer.

        Returns:
            ndarray[P, n_embd] float32.

        Raises:
            ValueError: a layer out of range.
            DiscaError: the graph names no ``l_out`` tensor for that layer.
        """
        if not 0 <= layer < self.n_layer:
            raise ValueError(f"layer must be in [0, {self.n_layer - 1}], got {layer}")
        name = f"l_out-{layer}"
        self._require([name], "hidden-state capture")
        out = np.empty((len(token_lists), self.n_embd), dtype=np.float32)
        for i, tokens in enumerate(token_lists):
            hook = _LastRow(self.ggml, name, self.n_embd)
            self.logits(list(tokens), hook)
            if hook.row is None:  # pragma: no cover - the name was in the graph
                raise DiscaError(f"llama.cpp never computed {name}")
            out[i] = hook.row
        return out

    # ------------------------------------------------------------------ steering
    def logits_ab_steered(
        self, prompts: Sequence[ChatPrompt], vector: np.ndarray, layer: int
    ) -> LogitsAB:
        """Decision-token logits with `vector` added to block `layer`'s output at every position.

        Sets a llama.cpp control vector on the hooked context, evaluates each prompt alone
        from an empty cache and clears the vector again, also when the evaluation fails.

        Args:
            prompts: P chat prompts.
            vector (ndarray[n_embd]): what to add (α·v: scale a unit direction first).
            layer: 1 ≤ layer < n_layer (layer 0 cannot be steered).

        Returns:
            LogitsAB with (P,)-shaped arrays.

        Raises:
            ValueError: layer 0 or out of range, or a vector of the wrong width.
        """
        vector = np.asarray(vector)
        if vector.shape != (self.n_embd,):
            raise ValueError(
                f"the steering vector must be ndarray[{self.n_embd}], got {vector.shape}"
            )
        data = control_vector_data(vector, layer, self.n_layer)
        self._set_control_vector(data, layer)
        try:
            return self.logits_ab(prompts)
        finally:
            self._set_control_vector(None, -1)

    def _set_control_vector(self, data: np.ndarray | None, layer: int) -> None:
        """Apply `data` (`control_vector_data`) at `layer`, or clear the vector (None)."""
        pointer: Any = None
        length = 0
        if data is not None:
            pointer, length = data.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), data.size
        rc = self._llama.llama_set_adapter_cvec(
            self._ctx, pointer, length, self.n_embd, layer, layer
        )
        if rc != 0:
            raise DiscaError(f"llama.cpp refused the control vector (code {rc})")

    # ------------------------------------------------------------------ dropout
    def logits_ab_dropout(
        self,
        prompts: Sequence[ChatPrompt],
        *,
        rate: float,
        seed: int,
        scenarios: Sequence[int],
        pass_index: int,
    ) -> LogitsAB:
        """Decision-token logits of one emulated MC-dropout pass (BASELINES.md §7).

        Every layer's ``attn_out`` and ``ffn_out`` is multiplied by an inverted-dropout
        mask as it is computed; prompt i's masks come from `DropoutMasks` (rate, seed,
        scenarios[i], pass_index). Each prompt is a full decode from an empty cache.

        Args:
            prompts: P chat prompts.
            rate: dropout probability p, 0 ≤ p < 1 (0: the plain logits, bit for bit).
            seed: the run's seed.
            scenarios: P canonical scenario indices, one per prompt.
            pass_index: which stochastic pass (0-based).

        Returns:
            LogitsAB with (P,)-shaped arrays.

        Raises:
            DiscaError: layers run on a GPU, or the architecture's graph lacks the tensors.
            ValueError: bad rate, seed or indices.
        """
        if self._engine.settings["n_gpu_layers"] != 0:
            raise DiscaError(
                "MC-dropout emulation runs on the CPU only; open the model with n_gpu_layers=0"
            )
        if len(scenarios) != len(prompts):
            raise ValueError(f"{len(prompts)} prompts but {len(scenarios)} scenario indices")
        names = dropout_tensor_names(self.n_layer)
        self._require(names, "MC-dropout emulation")
        masks = [DropoutMasks(rate, seed, scenario, pass_index) for scenario in scenarios]
        wanted = set(names)
        return self._logits_ab(
            prompts, lambda i: _Dropout(self.ggml, masks[i], self.n_embd, wanted)
        )
