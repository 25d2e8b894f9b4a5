"""GGUF checks: a file's magic, version, header and size, read before llama.cpp touches it.

The file is mapped and its header walked to the end of the tensor table without
decoding any value, so a check costs tens of milliseconds even for a 262k-token
vocabulary. (The ``gguf`` package's `GGUFReader` decodes every metadata value into
NumPy views, 45-75 times slower: seconds per model load. The tests compare this
reader with it on files its `GGUFWriter` writes.)
"""

from __future__ import annotations

import math
import mmap
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import DiscaError

__all__ = ["GGUF_MAGIC", "GGUF_VERSIONS", "GgufInfo", "check_gguf"]

GGUF_MAGIC = b"GGUF"
GGUF_VERSIONS = (2, 3)
_ALIGNMENT_KEY = b"general.alignment"
_DEFAULT_ALIGNMENT = 32
_MAX_STRING = 1 << 30  # bytes; a longer key or value is a corrupt length field
_MAX_DIMS = 8

# GGUF metadata value types: bytes of each scalar type; 8 is a string, 9 an array.
_SCALAR_BYTES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_UINT32, _STRING, _ARRAY = 4, 8, 9
# ggml type id -> (block size, bytes per block) as ggml_blck_size / ggml_type_size give
# them (tests/unit/test_models_gguf.py asks the engine's ggml); others: extent unchecked.
_GGML_TYPES = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
    9: (32, 36), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176),
    14: (256, 210), 15: (256, 292), 16: (256, 66), 17: (256, 74), 18: (256, 98),
    19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82), 23: (256, 136),
    24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56),
    30: (1, 2), 34: (256, 54), 35: (256, 66), 39: (32, 17), 40: (64, 36), 41: (128, 18),
    42: (64, 18),
}  # fmt: skip
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


@dataclass(frozen=True)
class GgufInfo:
    """What the GGUF header says, read without llama.cpp.

    Attributes:
        path: the file.
        version: GGUF format version (2 or 3).
        n_tensors: tensors in the tensor table.
        n_kv: metadata key-value pairs.
        size: the file's bytes.
        data_end: where the last tensor's data ends (bytes from the file's start).
    """

    path: Path
    version: int
    n_tensors: int
    n_kv: int
    size: int
    data_end: int


class _Header:
    """A cursor over a mapped GGUF file; reading past its end means a truncated header."""

    def __init__(self, data: mmap.mmap, path: Path) -> None:
        self.data, self.path, self.pos = data, path, len(GGUF_MAGIC)

    def truncated(self) -> DiscaError:
        return DiscaError(f"{self.path}: truncated GGUF (header ends early)")

    def corrupt(self, what: str) -> DiscaError:
        return DiscaError(f"{self.path}: corrupt GGUF header ({what} at byte {self.pos})")

    def skip(self, n: int) -> None:
        self.pos += n
        if self.pos > len(self.data):
            raise self.truncated()

    def u32(self) -> int:
        if self.pos + 4 > len(self.data):
            raise self.truncated()
        self.pos += 4
        return _U32.unpack_from(self.data, self.pos - 4)[0]

    def u64(self) -> int:
        if self.pos + 8 > len(self.data):
            raise self.truncated()
        self.pos += 8
        return _U64.unpack_from(self.data, self.pos - 8)[0]

    def string(self) -> bytes:
        n = self.u64()
        if n > _MAX_STRING:
            raise self.corrupt(f"a string of {n} bytes")
        self.skip(n)
        return self.data[self.pos - n : self.pos]

    def skip_strings(self, count: int) -> None:
        """Step over `count` strings (a vocabulary: the one loop that must be quick)."""
        data, pos, end, unpack = self.data, self.pos, len(self.data), _U64.unpack_from
        for _ in range(count):
            if pos + 8 > end:
                raise self.truncated()
            n = unpack(data, pos)[0]
            if n > _MAX_STRING:
                self.pos = pos
                raise self.corrupt(f"a string of {n} bytes")
            pos += 8 + n
        self.pos = pos
        if pos > end:
            raise self.truncated()

    def skip_value(self, vtype: int) -> None:
        if vtype in _SCALAR_BYTES:
            self.skip(_SCALAR_BYTES[vtype])
        elif vtype == _STRING:
            self.skip_strings(1)
        elif vtype == _ARRAY:
            inner, count = self.u32(), self.u64()
            if inner in _SCALAR_BYTES:
                self.skip(_SCALAR_BYTES[inner] * count)
            elif inner == _STRING:
                self.skip_strings(count)
            else:
                for _ in range(count):
                    self.skip_value(inner)
        else:
            raise self.corrupt(f"unknown value type {vtype}")


def _alignment(header: _Header, n_kv: int) -> int:
    """Step over the metadata; returns ``general.alignment`` (default 32)."""
    alignment = _DEFAULT_ALIGNMENT
    for _ in range(n_kv):
        key = header.string()
        vtype = header.u32()
        if key != _ALIGNMENT_KEY:
            header.skip_value(vtype)
            continue
        alignment = header.u32() if vtype == _UINT32 else 0
        if alignment <= 0 or alignment & (alignment - 1):
            raise header.corrupt("general.alignment is not a power of two (uint32)")
    return alignment


def _data_extent(header: _Header, n_tensors: int) -> int:
    """Step over the tensor table; returns the bytes the tensor data needs (known types)."""
    extent = 0
    for _ in range(n_tensors):
        header.string()
        n_dims = header.u32()
        if n_dims > _MAX_DIMS:
            raise header.corrupt(f"a tensor with {n_dims} dimensions")
        dims = [header.u64() for _ in range(n_dims)]
        ggml_type, offset = header.u32(), header.u64()
        block, nbytes = _GGML_TYPES.get(ggml_type, (0, 0))
        if block:
            extent = max(extent, offset + math.prod(dims) // block * nbytes)
    return extent


def _read_header(data: mmap.mmap, path: Path) -> GgufInfo:
    """Walk a mapped GGUF (magic already checked) to its tensor table's end."""
    header = _Header(data, path)
    version = header.u32()
    if version not in GGUF_VERSIONS:
        raise DiscaError(f"{path}: unsupported GGUF version {version} (expected 2 or 3)")
    n_tensors, n_kv = header.u64(), header.u64()
    alignment = _alignment(header, n_kv)
    extent = _data_extent(header, n_tensors)
    data_start = (header.pos + alignment - 1) // alignment * alignment
    return GgufInfo(path, version, n_tensors, n_kv, len(data), data_start + extent)


def check_gguf(path: str | os.PathLike, expected_size: int | None = None) -> GgufInfo:
    """Validate a GGUF before llama.cpp touches it: magic, version, header, size.

    The tensor table gives the extent of the tensor data, so a truncated download is
    caught even without a registry size.

    Args:
        path: the file.
        expected_size: its size in bytes when known (the registry's), else None.

    Raises:
        DiscaError: missing or unreadable file, wrong size, not a GGUF, unsupported
            version, truncated or corrupt header or data; one line naming the file.
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
    try:
        with path.open("rb") as handle:
            magic = handle.read(len(GGUF_MAGIC))
            if magic != GGUF_MAGIC:
                raise DiscaError(f"{path}: not a GGUF file (magic {magic!r}, expected b'GGUF')")
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                info = _read_header(data, path)
    except OSError as exc:
        raise DiscaError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if info.data_end > size:
        raise DiscaError(
            f"{path}: truncated GGUF ({size} bytes, tensor data needs {info.data_end}); "
            "download it again"
        )
    return info
