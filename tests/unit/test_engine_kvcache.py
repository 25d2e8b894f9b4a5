"""engine.kvcache's state files: names, the checksummed format, refusal of damaged files.

The resident-prefix bookkeeping itself needs a llama.cpp context and is tested with real
weights in tests/integration/test_engine.py; the file format is plain bytes.
"""

from __future__ import annotations

import hashlib
import logging
import struct

import pytest

from disca_edge.engine.kvcache import (
    STATE_MAGIC,
    read_state_file,
    state_file_name,
    write_state_file,
)

KEY = "n_ubatch=63/flash_attn=1/kv_type=q8_0/n_gpu_layers=0"


def test_a_state_round_trips_behind_magic_and_checksum(tmp_path):
    state = bytes(range(256)) * 3
    path = tmp_path / "states" / "a.kv"
    path.parent.mkdir()
    write_state_file(path, state)
    data = path.read_bytes()
    assert data == STATE_MAGIC + hashlib.sha256(state).digest() + state
    assert read_state_file(path) == state
    assert [p.name for p in path.parent.iterdir()] == ["a.kv"]  # no temp file left behind


def test_an_empty_state_round_trips(tmp_path):
    write_state_file(tmp_path / "e.kv", b"")
    assert read_state_file(tmp_path / "e.kv") == b""


def test_a_missing_file_reads_as_none(tmp_path):
    assert read_state_file(tmp_path / "absent.kv") is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),  # one payload bit
        lambda data: data[:-10],  # truncated payload
        lambda data: b"DISCAKV0" + data[8:],  # another format's magic
        lambda data: data[:20],  # cut inside the header
        lambda data: b"",  # empty file
    ],
    ids=["bit-flip", "truncated", "magic", "header", "empty"],
)
def test_a_damaged_file_reads_as_none_and_is_logged(tmp_path, caplog, damage):
    path = tmp_path / "s.kv"
    write_state_file(path, b"kv state bytes" * 10)
    path.write_bytes(damage(path.read_bytes()))
    with caplog.at_level(logging.WARNING, logger="disca_edge.engine.kvcache"):
        assert read_state_file(path) is None
    assert "checksum mismatch" in caplog.text and str(path) in caplog.text


def test_names_hash_the_kernel_settings_and_the_tokens():
    prefix = (1, 2, 3, 128000)
    name = state_file_name(KEY, prefix)
    expected = hashlib.sha256(KEY.encode() + struct.pack("<4q", *prefix)).hexdigest()[:32]
    assert name == f"{expected}.kv"  # the format saved files were written in
    assert state_file_name(KEY, prefix) == name
    assert state_file_name(KEY.replace("q8_0", "f16"), prefix) != name
    assert state_file_name(KEY, prefix[:-1]) != name
    assert state_file_name(KEY, (1, 2, 3, 128001)) != name
