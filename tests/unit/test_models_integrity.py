"""Integrity (`models.integrity`): a model file's sha256, full or sampled on every load."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from gguf_files import gguf_bytes, write_gguf  # same folder (pytest puts it on sys.path)

from disca_edge.engine import EngineOptions
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
    payload = gguf_bytes(tmp_path, 1024)  # 4 KiB of tensor data after the header
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


def _flip_keeping_mtime(path: Path, offset: int) -> None:
    """Damage one byte in place, then put the mtime back (what bit rot looks like)."""
    stat = path.stat()
    with path.open("r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0x01]))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns


def _next_process() -> None:
    """What a new `disca` process starts with: the memo on disk, no verdicts in memory."""
    integrity._VERIFIED.clear()


def _count_full_hashes(monkeypatch) -> list[Path]:
    hashed: list[Path] = []
    real = integrity.hash_file
    monkeypatch.setattr(
        integrity, "hash_file", lambda path, *a: hashed.append(path) or real(path, *a)
    )
    return hashed


def test_damage_that_keeps_size_and_mtime_is_caught_at_the_next_load(installed_tiny):
    spec, path = installed_tiny
    assert model_open.resolve_model("tiny") == (spec, path)  # verified and remembered
    _flip_keeping_mtime(path, path.stat().st_size // 2)
    _next_process()
    with pytest.raises(integrity.ModelIntegrityError, match="disca models pull tiny --force"):
        model_open.resolve_model("tiny")


def test_a_small_file_is_hashed_once_per_process_and_on_every_new_one(installed_tiny, monkeypatch):
    spec, path = installed_tiny
    hashed = _count_full_hashes(monkeypatch)
    model_open.resolve_model("tiny")
    model_open.resolve_model("tiny")
    assert hashed == []  # pull verified it in this process
    _next_process()
    assert integrity.verify_model(spec, path) == integrity.Verification(spec.sha256, "full")
    model_open.resolve_model("tiny")
    assert hashed == [path]
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a changed file
    model_open.resolve_model("tiny")
    assert hashed == [path, path]


@pytest.fixture
def large(installed_tiny, monkeypatch):
    """The tiny model treated as a large file: a 2-block sample of 16 bytes."""
    monkeypatch.setattr(integrity, "FULL_HASH_MAX", 0)
    monkeypatch.setattr(integrity, "SAMPLE_BLOCKS", 2)
    monkeypatch.setattr(integrity, "SAMPLE_BYTES", 16)
    spec, path = installed_tiny
    integrity.forget_digests()
    assert integrity.verify_model(spec, path).how == "full"  # first use: full, sample recorded
    _next_process()
    return spec, path


def test_a_large_file_is_sampled_on_later_loads(large, monkeypatch):
    spec, path = large
    hashed = _count_full_hashes(monkeypatch)
    assert integrity.verify_model(spec, path) == integrity.Verification(spec.sha256, "sampled")
    assert hashed == []


def test_a_large_file_damaged_in_a_sampled_block_is_caught_at_once(large, monkeypatch):
    spec, path = large
    _flip_keeping_mtime(path, path.stat().st_size - 3)  # inside the last block
    hashed = _count_full_hashes(monkeypatch)
    with pytest.raises(integrity.ModelIntegrityError):
        integrity.verify_model(spec, path)
    assert hashed == [path]  # the sample differed, so the file was hashed in full


def test_a_large_file_damaged_between_samples_is_caught_by_the_scheduled_full_hash(
    large, monkeypatch
):
    spec, path = large
    _flip_keeping_mtime(path, path.stat().st_size // 2)  # between the two sampled blocks
    # (os.utime moved the ctime; bit rot does not: put the memo's ctime in step)
    memo = integrity._read_memo()
    memo[str(path.resolve())]["ctime_ns"] = path.stat().st_ctime_ns
    integrity._write_memo(memo)
    assert integrity.verify_model(spec, path).how == "sampled"  # not seen yet: the limit
    _next_process()
    later = integrity._now() + integrity.FULL_EVERY + 1
    monkeypatch.setattr(integrity, "_now", lambda: later)
    with pytest.raises(integrity.ModelIntegrityError):
        integrity.verify_model(spec, path)


def test_open_engine_records_the_digest_checked_and_how(installed_tiny, monkeypatch):
    spec, path = installed_tiny

    class FakeEngine:
        def __init__(self, model_path, options, **hooks):
            self.settings = {"n_ctx": options.n_ctx}

    monkeypatch.setattr(model_open, "Engine", FakeEngine)
    _next_process()
    _, info = model_open.open_engine(EngineOptions(model="tiny"))
    assert (info.sha256, info.verified) == (spec.sha256, "full")
    _flip_keeping_mtime(path, path.stat().st_size - 100)
    _next_process()
    with pytest.raises(integrity.ModelIntegrityError):
        model_open.open_engine(EngineOptions(model="tiny"))


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
