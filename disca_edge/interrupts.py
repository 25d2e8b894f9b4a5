"""Holding Ctrl-C and SIGTERM back for a moment that must not be split.

Two moments need it: appending a chunk of records (`evals.runlog`: a chunk is written
whole or not at all) and a llama.cpp decode whose eval callback runs Python
(`engine.hooks`: an interrupt raised inside a ctypes callback is printed as "Exception
ignored" and lost). A signal that arrives meanwhile is delivered when the block ends, so
its KeyboardInterrupt is raised in ordinary Python code. Best effort where other
threads run (a progress display): the kernel may hand the signal to one of them, and
the callback then keeps it as any hook exception (`engine.ggml.EvalCallback`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["signals_held"]


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Defer SIGINT and SIGTERM inside the block (main thread, POSIX; elsewhere a no-op)."""
    can_block = hasattr(signal, "pthread_sigmask") and (
        threading.current_thread() is threading.main_thread()
    )
    if not can_block:
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
