"""ggml's tensor API through ctypes, and the eval callback that hands graph tensors to a hook.

llama.cpp calls a context's ``cb_eval`` for every graph node twice: once to *ask* whether
the caller wants the node (a yes splits the graph there, so the node's data is ready when
it is computed) and, for a yes, once more with the computed tensor, which may be read and
written in place before the nodes that use it run. `EvalCallback` asks for nothing while
no hook is active, so an installed callback costs one Python call per node and no split.

The functions come from ``libggml-base`` inside the llama_cpp package (the same library
llama.cpp itself loaded).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import DiscaError

__all__ = ["EvalCallback", "Ggml", "TensorHook"]

_F32_BYTES = 4


class TensorHook(Protocol):
    """What an `EvalCallback` hands graph tensors to.

    `wants` is asked once per node and graph evaluation (cheap: a set lookup); each
    wanted node's computed tensor (an opaque ``ggml_tensor *``) goes to `on_tensor`,
    which may change it in place with `Ggml.write`.
    """

    def wants(self, name: str) -> bool:
        """Whether the node named `name` (e.g. ``l_out-15``) should be handed over."""
        ...

    def on_tensor(self, tensor: int, name: str) -> None:
        """Called with each wanted node once it is computed."""
        ...


def _library_path(llama_cpp: Any) -> str:
    """``libggml-base`` of the installed llama_cpp package (else the system's)."""
    folder = Path(llama_cpp.__file__).parent / "lib"
    for pattern in ("libggml-base.so", "libggml-base.dylib", "ggml-base.dll", "libggml-base.*"):
        found = sorted(folder.glob(pattern))
        if found:
            return str(found[0])
    system = ctypes.util.find_library("ggml-base")
    if system:
        return system
    raise DiscaError(
        f"cannot find libggml-base in {folder}: graph hooks need llama-cpp-python's ggml library"
    )


class Ggml:
    """The few ggml functions graph hooks need: tensor names, sizes, reads and writes.

    Args:
        llama_cpp: the ``llama_cpp`` module whose ggml to use.
    """

    def __init__(self, llama_cpp: Any) -> None:
        lib = ctypes.CDLL(_library_path(llama_cpp))
        lib.ggml_get_name.restype, lib.ggml_get_name.argtypes = ctypes.c_char_p, [ctypes.c_void_p]
        lib.ggml_nbytes.restype, lib.ggml_nbytes.argtypes = ctypes.c_size_t, [ctypes.c_void_p]
        lib.ggml_nelements.restype, lib.ggml_nelements.argtypes = ctypes.c_int64, [ctypes.c_void_p]
        lib.ggml_is_contiguous.restype = ctypes.c_bool
        lib.ggml_is_contiguous.argtypes = [ctypes.c_void_p]
        for name in ("ggml_backend_tensor_get", "ggml_backend_tensor_set"):
            function = getattr(lib, name)
            function.restype = None
            function.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t]
        self._lib = lib

    def name(self, tensor: int) -> str:
        """The tensor's name in the graph (``attn_out-3``, ``node_17``, ...)."""
        return (self._lib.ggml_get_name(tensor) or b"").decode("utf-8", errors="replace")

    def _f32_rows(self, tensor: int, width: int) -> tuple[int, int]:
        """(rows, bytes) of a contiguous f32 tensor of rows of `width`; else ValueError."""
        lib = self._lib
        count, size = int(lib.ggml_nelements(tensor)), int(lib.ggml_nbytes(tensor))
        if size != count * _F32_BYTES or not lib.ggml_is_contiguous(tensor) or count % width:
            raise ValueError(
                f"graph tensor {self.name(tensor)} is not a contiguous f32 tensor of rows of "
                f"{width} ({count} elements, {size} bytes)"
            )
        return count // width, size

    def read_rows(self, tensor: int, width: int) -> np.ndarray:
        """A copy of a computed f32 tensor as rows (one per token for layer outputs).

        Returns:
            ndarray[rows, width] float32 (rows = elements / width).

        Raises:
            ValueError: the tensor is not contiguous f32 or not a whole number of rows.
        """
        rows, size = self._f32_rows(tensor, width)
        out = np.empty((rows, width), dtype=np.float32)
        self._lib.ggml_backend_tensor_get(tensor, out.ctypes.data, 0, size)
        return out

    def write(self, tensor: int, rows: np.ndarray) -> None:
        """Overwrite a computed f32 tensor with `rows` (ndarray[rows, width], its shape).

        Raises:
            ValueError: the shapes differ or the tensor is not contiguous f32.
        """
        data = np.ascontiguousarray(rows, dtype=np.float32)
        count, size = self._f32_rows(tensor, data.shape[-1])
        if data.size * _F32_BYTES != size:
            raise ValueError(f"{data.shape} rows do not fill graph tensor {self.name(tensor)}")
        self._lib.ggml_backend_tensor_set(tensor, data.ctypes.data, 0, size)


class EvalCallback:
    """A context's ``cb_eval``: hands the tensors the active hook wants to it.

    With no active hook it answers every *ask* with no (nothing split, nothing read). An
    exception in a hook (or a Ctrl-C arriving while the callback runs) is kept, the graph
    evaluation is cancelled (the callback answers false for the computed tensor), and
    `raise_pending` raises it after the decode.

    Args:
        llama_cpp: the ``llama_cpp`` module (for the callback's C type).
        ggml: the tensor functions hooks use.

    Attributes:
        c_function: the ctypes function to put in ``llama_context_params.cb_eval``; it
            must outlive the context.
    """

    def __init__(self, llama_cpp: Any, ggml: Ggml) -> None:
        self.ggml = ggml
        self.hook: TensorHook | None = None
        self.error: BaseException | None = None
        self.c_function = llama_cpp.ggml_backend_sched_eval_callback(self._call)

    def _call(self, tensor: int, ask: bool, _user_data: int) -> bool:
        try:  # all of it: an exception escaping a ctypes callback is printed and lost
            hook = self.hook
            if hook is None or self.error is not None:
                return not ask
            name = self.ggml.name(tensor)
            if ask:
                return bool(hook.wants(name))
            hook.on_tensor(tensor, name)
            return True
        except BaseException as exc:  # kept and re-raised by raise_pending after the decode
            self.error = exc
            return False

    @contextlib.contextmanager
    def active(self, hook: TensorHook | None) -> Iterator[None]:
        """Hand tensors to `hook` inside the block (None: a plain evaluation)."""
        self.hook, self.error = hook, None
        try:
            yield
        finally:
            self.hook = None

    def raise_pending(self) -> None:
        """Raise the exception a hook raised during the last decode, if any."""
        error, self.error = self.error, None
        if error is not None:
            raise error
