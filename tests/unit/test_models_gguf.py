"""GGUF checks (`models.gguf`): files llama.cpp's own writer made, then cut or damaged ones."""

from __future__ import annotations

import ctypes
import struct
from pathlib import Path

import pytest
from gguf_files import reference_layout, write_gguf  # same folder (pytest puts it on sys.path)

from disca_edge.errors import DiscaError
from disca_edge.models import gguf as gguf_check
from disca_edge.models.gguf import check_gguf


def _one_line_about(path: Path, match: str):
    """Expect a one-line DiscaError naming `path` and saying `match`."""
    return pytest.raises(DiscaError, match=rf"^{path}: .*{match}[^\n]*$")


@pytest.mark.parametrize(
    "options",
    [{}, {"metadata": True}, {"quantized": True}, {"metadata": True, "quantized": True,
                                                   "alignment": 64}],
)  # fmt: skip
def test_check_gguf_reads_what_the_reference_reader_reads(tmp_path, options):
    path = write_gguf(tmp_path / "m.gguf", **options)
    info = check_gguf(path)
    assert (info.version, info.n_tensors, info.n_kv, info.data_end) == reference_layout(path)
    assert info.size == path.stat().st_size and info.path == path


def test_the_minimal_file_ends_with_its_tensor_data(tmp_path):
    path = write_gguf(tmp_path / "good.gguf")
    info = check_gguf(path)
    assert (info.version, info.n_tensors, info.n_kv) == (3, 1, 1)  # general.architecture
    assert info.data_end == path.stat().st_size


def test_truncated_tensor_data_is_caught_without_a_registry_size(tmp_path):
    data = write_gguf(tmp_path / "m.gguf").read_bytes()
    cut = tmp_path / "trunc.gguf"
    cut.write_bytes(data[:-4])
    with _one_line_about(cut, rf"truncated GGUF \({len(data) - 4} bytes, tensor data needs "):
        check_gguf(cut)


def test_a_file_cut_anywhere_is_one_truncated_error(tmp_path):
    path = write_gguf(tmp_path / "m.gguf", metadata=True, quantized=True)
    data, data_end = path.read_bytes(), reference_layout(path)[3]
    cut = tmp_path / "cut.gguf"
    for end in [*range(4, data_end, 7), data_end - 1]:  # padding after the data may go
        cut.write_bytes(data[:end])
        with _one_line_about(cut, "truncated GGUF"):
            check_gguf(cut)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04" + b"\0" * 100, r"not a GGUF file \(magic b'PK\\x03\\x04'"),
        (b"", r"not a GGUF file \(magic b''"),
        (b"GGUF" + struct.pack("<IQQ", 4, 0, 0), "unsupported GGUF version 4"),
        (b"GGUF" + struct.pack("<IQQ", 1, 0, 0), "unsupported GGUF version 1"),
    ],
)
def test_not_a_gguf_or_another_version_is_one_line(tmp_path, content, message):
    path = tmp_path / "x.gguf"
    path.write_bytes(content)
    with _one_line_about(path, message):
        check_gguf(path)


def _kv_file(tmp_path: Path, key: bytes, vtype: int, value: bytes) -> Path:
    """A GGUF v3 header with one metadata pair (no tensors)."""
    path = tmp_path / "kv.gguf"
    body = struct.pack("<Q", len(key)) + key + struct.pack("<I", vtype) + value
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + body + b"\0" * 64)
    return path


@pytest.mark.parametrize(
    ("key", "vtype", "value", "message"),
    [
        (b"a", 13, b"", "unknown value type 13"),
        (b"a", 8, struct.pack("<Q", 1 << 40), "a string of 1099511627776 bytes"),
        (b"general.alignment", 4, struct.pack("<I", 48), "general.alignment is not a power"),
        (b"general.alignment", 4, struct.pack("<I", 0), "general.alignment is not a power"),
        (b"general.alignment", 10, struct.pack("<Q", 32), "general.alignment is not a power"),
    ],
)
def test_corrupt_metadata_is_one_line(tmp_path, key, vtype, value, message):
    path = _kv_file(tmp_path, key, vtype, value)
    with _one_line_about(path, "corrupt GGUF header .*" + message):
        check_gguf(path)


def test_a_corrupt_tensor_table_is_one_line(tmp_path):
    path = tmp_path / "t.gguf"
    table = struct.pack("<Q", 1) + b"w" + struct.pack("<I", 9) + struct.pack("<9Q", *[1] * 9)
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 1, 0) + table + b"\0" * 64)
    with _one_line_about(path, "corrupt GGUF header .*a tensor with 9 dimensions"):
        check_gguf(path)


def test_size_missing_and_folders_are_one_line(tmp_path):
    short = tmp_path / "s.gguf"
    short.write_bytes(b"GGUF")
    with _one_line_about(short, "size 4 bytes, expected 5"):
        check_gguf(short, expected_size=5)
    with _one_line_about(tmp_path / "missing.gguf", "model file not found"):
        check_gguf(tmp_path / "missing.gguf")
    with _one_line_about(tmp_path, "not a file"):
        check_gguf(tmp_path)


def _engine_type_sizes() -> dict[int, tuple[int, int]]:
    """ggml type id -> (block size, bytes per block), asked of the engine's own ggml."""
    llama_cpp = pytest.importorskip("llama_cpp")
    found = sorted((Path(llama_cpp.__file__).parent / "lib").glob("libggml-base.*"))
    if not found:
        pytest.skip("llama-cpp-python's libggml-base is not in llama_cpp/lib")
    lib = ctypes.CDLL(str(found[0]))
    lib.ggml_blck_size.restype, lib.ggml_type_size.restype = ctypes.c_int64, ctypes.c_size_t
    lib.ggml_blck_size.argtypes = lib.ggml_type_size.argtypes = [ctypes.c_int]
    sizes = {}
    for ggml_type in range(llama_cpp.llama_cpp.GGML_TYPE_COUNT):
        block, size = lib.ggml_blck_size(ggml_type), lib.ggml_type_size(ggml_type)
        if block and size:  # removed types report 0
            sizes[ggml_type] = (block, size)
    return sizes


def test_tensor_sizes_are_the_engines():
    """Every tensor type the engine's ggml knows has the same block and bytes here.

    (Not the `gguf` package's table: it lists Q8_1 as 40 bytes where ggml's block is 36.)
    """
    assert _engine_type_sizes() == gguf_check._GGML_TYPES


def test_a_file_that_cannot_be_read_or_mapped_is_one_line(tmp_path, monkeypatch):
    path = write_gguf(tmp_path / "m.gguf")

    def no_map(*args, **kwargs):
        raise OSError(19, "No such device")  # mmap on a filesystem that cannot map

    monkeypatch.setattr(gguf_check.mmap, "mmap", no_map)
    with _one_line_about(path, r"cannot read \(No such device\)"):
        check_gguf(path)
