"""GGUF checks (`models.gguf`): files llama.cpp's own writer made, then cut or damaged ones."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from gguf_files import reference_layout, write_gguf  # same folder (pytest puts it on sys.path)

from disca_edge.errors import DiscaError
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


def test_size_missing_and_folders_are_one_line(tmp_path):
    short = tmp_path / "s.gguf"
    short.write_bytes(b"GGUF")
    with _one_line_about(short, "size 4 bytes, expected 5"):
        check_gguf(short, expected_size=5)
    with _one_line_about(tmp_path / "missing.gguf", "model file not found"):
        check_gguf(tmp_path / "missing.gguf")
    with _one_line_about(tmp_path, "not a file"):
        check_gguf(tmp_path)
