"""Tiny GGUF files for the model tests, written by the `gguf` package (llama.cpp's own writer).

Our reader (`disca_edge.models.gguf`) is checked against files it did not write and
against the same package's `GGUFReader`.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np


def write_gguf(
    path: Path,
    n_floats: int = 8,
    *,
    alignment: int | None = None,
    metadata: bool = False,
    quantized: bool = False,
) -> Path:
    """Write a valid GGUF v3 with one F32 tensor of `n_floats` zeros; returns `path`.

    `alignment` sets ``general.alignment``; `metadata` adds a value of every kind
    (scalars, strings, arrays of numbers, strings and arrays); `quantized` adds a Q4_0,
    a Q8_0, a Q4_K and an F16 tensor after the F32 one.
    """
    writer = gguf.GGUFWriter(str(path), arch="llama")
    if alignment is not None:
        writer.add_custom_alignment(alignment)
    if metadata:
        _add_every_kind_of_value(writer)
    writer.add_tensor("w", np.zeros(n_floats, dtype=np.float32))
    if quantized:
        q = gguf.GGMLQuantizationType
        for name, qtype, n in (("q4_0", q.Q4_0, 64), ("q8_0", q.Q8_0, 32), ("q4_k", q.Q4_K, 256)):
            block, nbytes = gguf.GGML_QUANT_SIZES[qtype]
            raw = np.arange(n // block * nbytes, dtype=np.uint8).reshape(1, -1)
            writer.add_tensor(name, raw, raw_dtype=qtype)  # a (1, n) tensor as bytes
        writer.add_tensor("half", np.ones((3, 5), dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _add_every_kind_of_value(writer: gguf.GGUFWriter) -> None:
    t = gguf.GGUFValueType
    writer.add_string("general.name", "tiny ünïcode")
    writer.add_bool("tiny.flag", True)
    writer.add_int8("tiny.i8", -3)
    writer.add_uint64("tiny.u64", 1 << 40)
    writer.add_float32("tiny.f32", 0.5)
    writer.add_float64("tiny.f64", 0.25)
    writer.add_array("tokenizer.ggml.tokens", ["<s>", "</s>", "a", "ab", "", "日本"])
    writer.add_array("tokenizer.ggml.scores", [0.0, -1.5, 2.0])
    writer.add_key_value("tiny.nested", [[1, 2], [3]], t.ARRAY, sub_type=t.ARRAY)


def gguf_bytes(folder: Path, n_floats: int = 8) -> bytes:
    """The bytes of `write_gguf(…, n_floats)` (written once under `folder`)."""
    return write_gguf(folder / f"made-{n_floats}.gguf", n_floats).read_bytes()


def reference_layout(path: Path) -> tuple[int, int, int, int]:
    """(version, tensors, metadata pairs, end of the last tensor's data) per `GGUFReader`."""
    reader = gguf.GGUFReader(path)
    version = int(reader.fields["GGUF.version"].parts[0][0])
    n_kv = int(reader.fields["GGUF.kv_count"].parts[0][0])
    end = max(t.data_offset + t.n_bytes for t in reader.tensors)
    return version, len(reader.tensors), n_kv, end
