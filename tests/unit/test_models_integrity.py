"""Integrity (`models.integrity`): sha256 of a model file, remembered by path, size and mtime."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from gguf_files import gguf_bytes, write_gguf  # same folder (pytest puts it on sys.path)

from disca_edge.models import integrity
from disca_edge.models import open as model_open
from disca_edge.models.pull import pull
from disca_edge.models.registry import ModelSpec


def tiny_spec(payload: bytes, sha: str | None) -> ModelSpec:
    """A hub entry `tiny` for `payload` (never downloaded: installed with ``--from``)."""
    return ModelSpec(
        name="tiny", description="", source="hf", filename="tiny.gguf",
        repo="someone/tiny-GGUF", file="tiny.gguf", sha256=sha, size=len(payload),
    )  # fmt: skip


@pytest.fixture
def installed_tiny(tmp_path, monkeypatch) -> tuple[ModelSpec, Path]:
    """A registry entry `tiny` installed in the cache, resolvable by name."""
    payload = gguf_bytes(tmp_path)
    spec = tiny_spec(payload, hashlib.sha256(payload).hexdigest())
    src = tmp_path / "download.gguf"
    src.write_bytes(payload)
    path = pull(spec, from_file=src)
    monkeypatch.setattr(model_open, "get_model", lambda name, registry=None: spec)
    return spec, path


def test_a_damaged_registry_model_is_refused_before_use(installed_tiny):
    spec, path = installed_tiny
    assert model_open.resolve_model("tiny") == (spec, path)
    data = bytearray(path.read_bytes())
    data[-8:] = b"\xff" * 8  # same size, header intact: only the hash can tell
    path.write_bytes(bytes(data))
    with pytest.raises(integrity.ModelIntegrityError) as caught:
        model_open.resolve_model("tiny")
    message = str(caught.value)
    assert message.startswith(f"{path}: sha256 ") and "disca models pull tiny --force" in message
    assert "\n" not in message
    with pytest.raises(integrity.ModelIntegrityError):  # `pull` without --force says the same
        pull(spec)


def test_sha256_verification_is_remembered_by_path_size_and_mtime(installed_tiny, monkeypatch):
    spec, path = installed_tiny
    hashed = []
    real = integrity.hashlib.sha256
    monkeypatch.setattr(integrity.hashlib, "sha256", lambda *a: hashed.append(1) or real(*a))
    model_open.resolve_model("tiny")
    model_open.resolve_model("tiny")
    assert hashed == []  # pull recorded the digest it had just verified
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    model_open.resolve_model("tiny")
    assert hashed == [1]  # a new mtime means one new hash
    model_open.resolve_model("tiny")
    assert hashed == [1]


def test_first_time_hashing_reports_progress(tmp_path):
    gguf = write_gguf(tmp_path / "mine.gguf", 16)
    seen = []
    digest = integrity.sha256_file(gguf, lambda done, total: seen.append((done, total)))
    assert digest == hashlib.sha256(gguf.read_bytes()).hexdigest()
    assert seen[-1] == (gguf.stat().st_size, gguf.stat().st_size)
    seen.clear()
    assert integrity.sha256_file(gguf, lambda d, t: seen.append(d)) == digest and seen == []
    assert (gguf.resolve(), digest) in integrity.remembered_digests()
    integrity.forget_digests()
    assert integrity.remembered_digests() == []


def test_verify_sha256_accepts_the_registrys_digest_in_any_case(tmp_path):
    gguf = write_gguf(tmp_path / "mine.gguf")
    digest = hashlib.sha256(gguf.read_bytes()).hexdigest()
    spec = tiny_spec(gguf.read_bytes(), digest.upper())
    assert integrity.verify_sha256(spec, gguf) == digest
    unpinned = tiny_spec(gguf.read_bytes(), None)  # no registry hash: nothing to compare
    assert integrity.verify_sha256(unpinned, gguf) == digest
