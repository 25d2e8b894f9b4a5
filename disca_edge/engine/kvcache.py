"""The KV cache's pinned prefixes: resident system prompts, their saved states, their layout.

Pinned prefixes are sequences ``0 .. PINNED_SLOTS - 1`` of a unified llama.cpp KV cache.
The cache keeps one invariant: no holes. Resident prefixes fill the first cells and
every free cell lies after them, so the suffix tokens the engine decodes next take the
following cells in order, and the cells any token sees lie in position order, as in
isolated evaluation (which is what keeps shared-prefix logits bit-identical).
When a group needs prefixes that are not resident, or the room they leave is too small,
the cache is rebuilt: cleared and refilled with exactly the prefixes needed, restored
from an in-memory copy of their state, from a state file, or decoded.

State files hold one prefix each: a header (magic, SHA-256 of the payload) and the
``llama_state_seq_get_data`` bytes. A file that fails its checksum, or that llama.cpp
rejects, is replaced by a fresh one.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..paths import atomic_write_bytes

__all__ = [
    "PINNED_SLOTS",
    "STATE_MAGIC",
    "PinnedPrefixes",
    "read_state_file",
    "state_file_name",
    "write_state_file",
]

log = logging.getLogger(__name__)

PINNED_SLOTS = 16  # sequence ids 0..15 hold resident system-prompt prefixes
STATE_MAGIC = b"DISCAKV1"  # state file header: magic, then the payload's sha256, then payload
_MEMORY_STATES = 32  # prefix states kept in RAM for rebuilding the cache without recompute

Prefix = tuple[int, ...]

_CHECKSUM_BYTES = 32  # SHA-256


def state_file_name(kernel_key: str, prefix: Prefix) -> str:
    """File name of a prefix's saved state: a hash of the kernel settings and the tokens.

    Args:
        kernel_key: the engine settings that change KV values.
        prefix: the prefix's token ids.

    Returns:
        32 hex digits and ``.kv``.
    """
    digest = hashlib.sha256(kernel_key.encode())
    digest.update(np.asarray(prefix, dtype=np.int64).tobytes())
    return f"{digest.hexdigest()[:32]}.kv"


def write_state_file(path: Path, state: bytes) -> None:
    """Save a state atomically: `STATE_MAGIC`, the SHA-256 of the state, the state."""
    atomic_write_bytes(path, STATE_MAGIC + hashlib.sha256(state).digest() + state)


def read_state_file(path: Path) -> bytes | None:
    """The state saved in ``path``, checked against its header.

    Returns:
        The state; None when the file is absent, or when its magic or checksum does not
        match (logged: the caller decodes the prefix again and replaces the file).
    """
    if not path.is_file():
        return None
    data = path.read_bytes()
    head = len(STATE_MAGIC) + _CHECKSUM_BYTES
    payload = data[head:]
    if data[: len(STATE_MAGIC)] != STATE_MAGIC or (
        hashlib.sha256(payload).digest() != data[len(STATE_MAGIC) : head]
    ):
        log.warning("replacing corrupt prefix state %s (checksum mismatch)", path)
        return None
    return payload


class PinnedPrefixes:
    """Resident system-prompt prefixes of one llama.cpp context.

    Args:
        llama_cpp: the ``llama_cpp`` module.
        ctx: the ``llama_context`` pointer.
        n_ctx: KV cells in the context.
        decode: ``decode(steps, cells_in_use)`` decodes (token, pos, seq_ids) steps without
            logits, after `cells_in_use` occupied cells.
        state_dir: folder for state files, or None to keep states in memory only.
        kernel_key: settings that change the KV values (kept apart in state file names).
        stats: the engine's counters (``prefixes_loaded``, ``prefixes_decoded``).
        exclusive: keep exactly the prefixes the current group needs (fewer cells for
            attention to scan) rather than every prefix that still fits.
    """

    def __init__(
        self,
        llama_cpp,
        ctx,
        n_ctx: int,
        decode: Callable[[Sequence[tuple[int, int, tuple[int, ...]]], int], None],
        *,
        state_dir: Path | None,
        kernel_key: str,
        stats,
        exclusive: bool = False,
    ) -> None:
        self._llama = llama_cpp
        self._ctx = ctx
        self._mem = llama_cpp.llama_get_memory(ctx)
        self.n_ctx = int(n_ctx)
        self._decode = decode
        self.state_dir = state_dir
        self.kernel_key = kernel_key
        self.stats = stats
        self.exclusive = exclusive
        self.resident: OrderedDict[Prefix, int] = OrderedDict()  # prefix -> seq id
        self._states: OrderedDict[Prefix, bytes] = OrderedDict()  # in-memory states, LRU

    @property
    def used_cells(self) -> int:
        """Cells the resident prefixes hold (suffix cells are released after every group)."""
        return sum(len(p) for p in self.resident)

    def seq_of(self, prefix: Prefix) -> int:
        """Sequence id of a resident prefix."""
        return self.resident[prefix]

    def prepare(self, prefixes: Sequence[Prefix], extra_cells: int) -> None:
        """Make `prefixes` resident with room for `extra_cells` more cells after them.

        Args:
            prefixes: non-empty token tuples, at most `PINNED_SLOTS` distinct ones.
            extra_cells: suffix cells the caller decodes next.

        Raises:
            ValueError: more distinct prefixes than slots, or they cannot fit with the
                extra cells.
        """
        needed = list(dict.fromkeys(p for p in prefixes if p))
        if len(needed) > PINNED_SLOTS:
            raise ValueError(f"{len(needed)} pinned prefixes needed; {PINNED_SLOTS} fit")
        if sum(map(len, needed)) + extra_cells > self.n_ctx:
            raise ValueError(
                f"{sum(map(len, needed))} prefix cells and {extra_cells} suffix cells exceed "
                f"the {self.n_ctx}-cell context"
            )
        missing = [p for p in needed if p not in self.resident]
        room = self.n_ctx - self.used_cells - sum(map(len, missing))
        stale = self.exclusive and set(self.resident) != set(needed)
        if stale or len(self.resident) + len(missing) > PINNED_SLOTS or room < extra_cells:
            self.rebuild(needed)
        else:
            self._append(missing)
        for prefix in needed:
            self.resident.move_to_end(prefix)

    def rebuild(self, prefixes: Sequence[Prefix]) -> None:
        """Clear the cache and make exactly `prefixes` resident, in order."""
        for prefix in self.resident:
            if prefix not in self._states:
                self._remember(prefix, self._get_state(self.resident[prefix]))
        self.clear()
        self._append(list(dict.fromkeys(prefixes)))

    def clear(self) -> None:
        """Drop every cell, pinned prefixes included (their in-memory states are kept)."""
        self._llama.llama_memory_clear(self._mem, True)
        self.resident.clear()

    def _append(self, prefixes: list[Prefix]) -> None:
        """Put `prefixes` after the resident ones: restored where a state exists, else decoded."""
        free = sorted(set(range(PINNED_SLOTS)) - set(self.resident.values()))
        to_decode = []
        for prefix in prefixes:
            seq = free.pop(0)
            self.resident[prefix] = seq
            if not self._restore(prefix, seq):
                to_decode.append(prefix)
        if not to_decode:
            return
        steps = [(tok, pos, (self.resident[p],)) for p in to_decode for pos, tok in enumerate(p)]
        self._decode(steps, self.used_cells - sum(map(len, to_decode)))
        self.stats.prefixes_decoded += len(to_decode)
        for prefix in to_decode:
            state = self._get_state(self.resident[prefix])
            self._remember(prefix, state)
            self._write_file(prefix, state)

    # ------------------------------------------------------------------ states
    def _remember(self, prefix: Prefix, state: bytes) -> None:
        if not state:
            return
        self._states[prefix] = state
        self._states.move_to_end(prefix)
        while len(self._states) > _MEMORY_STATES:
            self._states.popitem(last=False)

    def _get_state(self, seq: int) -> bytes:
        size = self._llama.llama_state_seq_get_size(self._ctx, seq)
        buffer = (ctypes.c_uint8 * size)()
        written = self._llama.llama_state_seq_get_data(self._ctx, buffer, size, seq)
        return bytes(buffer[:written])

    def _set_state(self, prefix: Prefix, seq: int, state: bytes) -> bool:
        """Load `state` into `seq`; False (and `seq` emptied) if llama.cpp rejects it."""
        buffer = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        ok = self._llama.llama_state_seq_set_data(self._ctx, buffer, len(state), seq) != 0
        if ok and self._llama.llama_memory_seq_pos_max(self._mem, seq) == len(prefix) - 1:
            return True
        self._llama.llama_memory_seq_rm(self._mem, seq, -1, -1)
        return False

    def _restore(self, prefix: Prefix, seq: int) -> bool:
        state = self._states.get(prefix)
        if state is not None:
            if self._set_state(prefix, seq, state):
                self._states.move_to_end(prefix)
                return True
            del self._states[prefix]
        state = self._read_file(prefix)
        if state is None:
            return False
        if not self._set_state(prefix, seq, state):
            log.warning("replacing unusable prefix state %s", self.state_file(prefix))
            return False
        self._remember(prefix, state)
        self.stats.prefixes_loaded += 1
        return True

    # ------------------------------------------------------------------ files
    def state_file(self, prefix: Prefix) -> Path | None:
        """Where the state of `prefix` is saved (None without a state folder)."""
        if self.state_dir is None:
            return None
        return self.state_dir / state_file_name(self.kernel_key, prefix)

    def _read_file(self, prefix: Prefix) -> bytes | None:
        """The checked state of a prefix's file; None if absent or corrupt (then replaced)."""
        path = self.state_file(prefix)
        return None if path is None else read_state_file(path)

    def _write_file(self, prefix: Prefix, state: bytes) -> None:
        path = self.state_file(prefix)
        if path is None or not state:
            return
        write_state_file(path, state)
