"""Model registry, GGUF checks and pulling, up to the network boundary (no llama.cpp)."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from disca_edge.cli import cli
from disca_edge.errors import DiscaError
from disca_edge.models import gguf as gguf_check
from disca_edge.models import integrity
from disca_edge.models import open as model_open
from disca_edge.models import pull as pulling
from disca_edge.models import registry as models


def _gguf_bytes(n_floats: int = 8, truncate: int = 0) -> bytes:
    """A minimal valid GGUF v3: one KV (general.alignment=32) and one F32 tensor."""

    def string(s: bytes) -> bytes:
        return struct.pack("<Q", len(s)) + s

    header = b"GGUF" + struct.pack("<IQQ", 3, 1, 1)
    header += string(b"general.alignment") + struct.pack("<I", 4) + struct.pack("<I", 32)
    header += string(b"w") + struct.pack("<I", 1) + struct.pack("<Q", n_floats)
    header += struct.pack("<I", 0) + struct.pack("<Q", 0)  # F32 at offset 0
    pad = (-len(header)) % 32
    data = header + b"\0" * pad + b"\0" * (4 * n_floats)
    return data[: len(data) - truncate] if truncate else data


def test_shipped_registry_has_the_required_entries():
    specs, default = models.load_registry()
    assert default == "smollm2-135m"
    assert specs["smollm2-135m"].source == "pypi"
    assert specs["smollm2-135m"].sha256 and specs["smollm2-135m"].size == 98362432
    assert len(specs["gemma3-270m"].members) == 4
    hub = [s for s in specs.values() if s.source == "hf"]
    assert {"qwen2.5-7b-instruct", "phi-4", "phi-3.5-mini-instruct"} <= {s.name for s in hub}
    assert all(s.repo and s.file.endswith(".gguf") for s in hub)


def test_unknown_model_suggests_close_names():
    with pytest.raises(models.UnknownModelError, match="did you mean smollm2-135m"):
        models.get_model("smollm")
    assert models.get_model("SmolLM2-135M").name == "smollm2-135m"


def test_malformed_registry_is_one_clear_error(tmp_path):
    bad = tmp_path / "models.toml"
    bad.write_text("[models.x\nsource = 1\n")
    with pytest.raises(models.RegistryError, match="malformed TOML"):
        models.load_registry(bad)
    bad.write_text('[models.x]\nsource = "ftp"\nfile = "a.gguf"\n')
    with pytest.raises(models.RegistryError, match="source must be one of"):
        models.load_registry(bad)
    bad.write_text('[models.x]\nsource = "hf"\nrepo = "a/b"\n')
    with pytest.raises(models.RegistryError, match=r"needs \['file'\]"):
        models.load_registry(bad)


def test_check_gguf_accepts_valid_and_rejects_corrupt(tmp_path):
    good = tmp_path / "good.gguf"
    good.write_bytes(_gguf_bytes())
    info = gguf_check.check_gguf(good)
    assert (info.version, info.n_tensors, info.n_kv) == (3, 1, 1)
    assert info.data_end == good.stat().st_size

    truncated = tmp_path / "trunc.gguf"
    truncated.write_bytes(_gguf_bytes(truncate=4))
    with pytest.raises(DiscaError, match="truncated GGUF"):
        gguf_check.check_gguf(truncated)

    not_gguf = tmp_path / "x.gguf"
    not_gguf.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(DiscaError, match="not a GGUF file"):
        gguf_check.check_gguf(not_gguf)

    with pytest.raises(DiscaError, match="size 4 bytes, expected 5"):
        short = tmp_path / "s.gguf"
        short.write_bytes(b"GGUF")
        gguf_check.check_gguf(short, expected_size=5)

    with pytest.raises(DiscaError, match="not found"):
        gguf_check.check_gguf(tmp_path / "missing.gguf")


def _local_registry(tmp_path: Path, payload: bytes, sha: str | None) -> models.ModelSpec:
    return models.ModelSpec(
        name="tiny",
        description="",
        source="hf",
        filename="tiny.gguf",
        repo="someone/tiny-GGUF",
        file="tiny.gguf",
        sha256=sha,
        size=len(payload),
    )


def test_pull_from_file_verifies_hash_and_installs_atomically(tmp_path):
    payload = _gguf_bytes()
    src = tmp_path / "download.gguf"
    src.write_bytes(payload)
    spec = _local_registry(tmp_path, payload, hashlib.sha256(payload).hexdigest())
    path = pulling.pull(spec, from_file=src)
    assert path.read_bytes() == payload and models.is_pulled(spec)
    assert not list(path.parent.glob(".pull-*"))  # no staging left behind

    wrong = _local_registry(tmp_path, payload, "0" * 64)
    with pytest.raises(DiscaError, match=f"^{src}: sha256 .* is not the registry's"):
        pulling.pull(wrong, from_file=src, force=True)
    assert path.read_bytes() == payload  # the installed copy is untouched


def test_pull_from_a_wrong_file_names_that_file(tmp_path):
    payload = _gguf_bytes()
    spec = _local_registry(tmp_path, payload, hashlib.sha256(payload).hexdigest())
    other = tmp_path / "other.gguf"
    other.write_bytes(_gguf_bytes(n_floats=16))
    with pytest.raises(DiscaError, match=f"^{other}: .* bytes, but tiny .* is {len(payload)}"):
        pulling.pull(spec, from_file=other)
    assert not models.local_path(spec).exists()


def _installed_tiny(tmp_path, monkeypatch) -> tuple[models.ModelSpec, Path]:
    """A registry entry `tiny` installed in the cache, resolvable by name."""
    payload = _gguf_bytes()
    spec = _local_registry(tmp_path, payload, hashlib.sha256(payload).hexdigest())
    src = tmp_path / "download.gguf"
    src.write_bytes(payload)
    path = pulling.pull(spec, from_file=src)
    monkeypatch.setattr(model_open, "get_model", lambda name, registry=None: spec)
    return spec, path


def test_a_damaged_registry_model_is_refused_before_use(tmp_path, monkeypatch):
    spec, path = _installed_tiny(tmp_path, monkeypatch)
    assert model_open.resolve_model("tiny") == (spec, path)
    data = bytearray(path.read_bytes())
    data[-8:] = b"\xff" * 8  # same size, header intact: only the hash can tell
    path.write_bytes(bytes(data))
    with pytest.raises(integrity.ModelIntegrityError) as caught:
        model_open.resolve_model("tiny")
    message = str(caught.value)
    assert message.startswith(f"{path}: sha256 ") and "disca models pull tiny --force" in message
    with pytest.raises(integrity.ModelIntegrityError):  # `pull` without --force says the same
        pulling.pull(spec)


def test_sha256_verification_is_remembered_by_path_size_and_mtime(tmp_path, monkeypatch):
    spec, path = _installed_tiny(tmp_path, monkeypatch)
    hashed = []
    real = integrity.hashlib.sha256
    monkeypatch.setattr(integrity.hashlib, "sha256", lambda *a: hashed.append(1) or real(*a))
    model_open.resolve_model("tiny")
    model_open.resolve_model("tiny")
    assert hashed == []  # pull recorded the digest it had just verified
    import os

    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    model_open.resolve_model("tiny")
    assert hashed == [1]  # a new mtime means one new hash
    model_open.resolve_model("tiny")
    assert hashed == [1]


def test_hub_pull_calls_hf_hub_download_with_repo_and_file(tmp_path, monkeypatch):
    """The real-user path, up to the network calls (the hub API is the boundary)."""
    pytest.importorskip("huggingface_hub")
    import huggingface_hub

    payload = _gguf_bytes()
    calls = []

    class Info:
        lfs = {"sha256": hashlib.sha256(payload).hexdigest()}

    def fake_download(**kwargs):
        calls.append(kwargs)
        out = tmp_path / "hub-cache" / kwargs["filename"]  # the hub keeps its own copy
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(payload)
        return str(out)

    monkeypatch.setattr(huggingface_hub.HfApi, "get_paths_info", lambda *a, **k: [Info()])
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    spec = models.get_model("phi-4")
    path = pulling.pull(spec)
    assert calls == [
        {"repo_id": "bartowski/phi-4-GGUF", "filename": "phi-4-Q4_K_M.gguf",
         "revision": None, "local_files_only": False}
    ]  # fmt: skip
    assert path == models.local_path(spec) and path.read_bytes() == payload
    assert path.resolve() == (tmp_path / "hub-cache" / "phi-4-Q4_K_M.gguf").resolve()


def test_hub_pull_offline_says_how_to_pull_manually(monkeypatch):
    hub = pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub.constants, "HF_HUB_OFFLINE", True)  # read at import time
    result = CliRunner().invoke(cli, ["models", "pull", "qwen2.5-7b-instruct"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    line = result.output.strip().splitlines()[-1]
    assert "could not download bartowski/Qwen2.5-7B-Instruct-GGUF" in line
    assert "--from FILE" in line


def test_models_cli_list_json_and_path():
    runner = CliRunner()
    listed = json.loads(runner.invoke(cli, ["models", "list", "--json"]).output)
    assert [m["name"] for m in listed][:2] == ["smollm2-135m", "gemma3-270m"]
    assert all(m["pulled"] is False for m in listed)  # fresh DISCA_HOME
    path = runner.invoke(cli, ["models", "path", "smollm2-135m"]).output.strip()
    assert path.endswith("smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf")
    bad = runner.invoke(cli, ["models", "path", "nope"])
    assert bad.exit_code == 1 and "unknown model 'nope'" in bad.output


def test_resolve_model_accepts_a_gguf_path_and_rejects_a_corrupt_one(tmp_path):
    good = tmp_path / "m.gguf"
    good.write_bytes(_gguf_bytes())
    spec, path = model_open.resolve_model(str(good))
    assert spec is None and path == good
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"nonsense")
    with pytest.raises(DiscaError, match="not a GGUF file"):
        model_open.resolve_model(str(bad))
