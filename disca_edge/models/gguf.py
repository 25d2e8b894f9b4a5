"""GGUF checks: a file's magic, version, header and size, read before llama.cpp touches it."""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DiscaError

__all__ = ["GGUF_MAGIC", "GgufInfo", "check_gguf"]

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class GgufInfo:
    """What the GGUF header says, read without llama.cpp."""

    path: Path
    version: int
    n_tensors: int
    n_kv: int
    size: int
    data_end: int


_GGUF_SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
# ggml type id -> (block size, bytes per block), for the tensor data extent
_GGML_TYPES = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
    9: (32, 36), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176),
    14: (256, 210), 15: (256, 292), 16: (256, 66), 17: (256, 74), 18: (256, 98),
    19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82), 23: (256, 136),
    24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56),
    30: (1, 2), 34: (256, 54), 35: (256, 66), 39: (32, 17),  # others: extent not checked
}  # fmt: skip


class _Reader:
    def __init__(self, handle, path: Path) -> None:
        self.handle, self.path = handle, path

    def take(self, n: int) -> bytes:
        data = self.handle.read(n)
        if len(data) != n:
            raise DiscaError(f"{self.path}: truncated GGUF (header ends early)")
        return data

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def u64(self) -> int:
        return struct.unpack("<Q", self.take(8))[0]

    def string(self) -> bytes:
        n = self.u64()
        if n > 1 << 30:
            raise DiscaError(f"{self.path}: corrupt GGUF (string of {n} bytes)")
        return self.take(n)

    def value(self, vtype: int):
        if vtype in _GGUF_SCALAR:
            return self.take(_GGUF_SCALAR[vtype])
        if vtype == 8:
            return self.string()
        if vtype == 9:
            inner, count = self.u32(), self.u64()
            if inner in _GGUF_SCALAR:
                return self.take(_GGUF_SCALAR[inner] * count)
            return [self.value(inner) for _ in range(count)]
        raise DiscaError(f"{self.path}: corrupt GGUF (unknown value type {vtype})")


def _gguf_layout(handle: Any, path: Path) -> tuple[int, int, int, int, int]:
    """Read a GGUF header to the tensor table's end.

    Returns:
        (version, n_tensors, n_kv, alignment, tensor data extent in bytes).

    Raises:
        DiscaError: wrong magic, unsupported version, corrupt tensor table.
    """
    reader = _Reader(handle, path)
    magic = handle.read(4)
    if magic != GGUF_MAGIC:
        raise DiscaError(f"{path}: not a GGUF file (magic {magic!r}, expected b'GGUF')")
    version = reader.u32()
    if version not in (2, 3):
        raise DiscaError(f"{path}: unsupported GGUF version {version}")
    n_tensors, n_kv = reader.u64(), reader.u64()
    alignment = 32
    for _ in range(n_kv):
        key = reader.string()
        vtype = reader.u32()
        value = reader.value(vtype)
        if key == b"general.alignment" and isinstance(value, bytes) and len(value) == 4:
            alignment = struct.unpack("<I", value)[0]
    data_extent = 0
    for _ in range(n_tensors):
        reader.string()
        n_dims = reader.u32()
        if n_dims > 8:
            raise DiscaError(f"{path}: corrupt GGUF (tensor with {n_dims} dimensions)")
        dims = [reader.u64() for _ in range(n_dims)]
        ggml_type = reader.u32()
        offset = reader.u64()
        block, nbytes = _GGML_TYPES.get(ggml_type, (0, 0))
        if block:
            data_extent = max(data_extent, offset + math.prod(dims) // block * nbytes)
    return version, n_tensors, n_kv, alignment, data_extent


def check_gguf(path: str | os.PathLike, expected_size: int | None = None) -> GgufInfo:
    """Validate a GGUF before llama.cpp touches it: magic, version, header, size.

    The tensor table gives the extent of the tensor data, so a truncated download is
    caught even without a registry size.

    Raises:
        DiscaError: missing file, wrong magic, truncated or corrupt header or data.
    """
    path = Path(path)
    if not path.exists():
        raise DiscaError(f"{path}: model file not found")
    if not path.is_file():
        raise DiscaError(f"{path}: not a file")
    size = path.stat().st_size
    if expected_size is not None and size != expected_size:
        raise DiscaError(
            f"{path}: size {size} bytes, expected {expected_size} (truncated or wrong file; "
            "pull it again with `disca models pull NAME --force`)"
        )
    with path.open("rb") as handle:
        version, n_tensors, n_kv, alignment, data_extent = _gguf_layout(handle, path)
        header_end = handle.tell()
    data_start = (header_end + alignment - 1) // alignment * alignment
    data_end = data_start + data_extent
    if data_end > size:
        raise DiscaError(
            f"{path}: truncated GGUF ({size} bytes, tensor data needs {data_end}); "
            "download it again"
        )
    return GgufInfo(path, version, n_tensors, n_kv, size, data_end)
