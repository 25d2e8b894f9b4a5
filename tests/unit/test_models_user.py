"""The user's models.toml, `disca models add/rm/show`, hub pulls through the HF cache, links.

Everything up to the network boundary: the hub is unreachable here, so the hub's own
cache is filled the way huggingface_hub lays it out and the metadata call is faked.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_models import _gguf_bytes  # same folder (pytest puts it on sys.path)

from disca_edge.cli import cli
from disca_edge.errors import DiscaError
from disca_edge.models import integrity
from disca_edge.models import open as model_open
from disca_edge.models import pull as pulling
from disca_edge.models import registry as models


def run(*args: str):
    return CliRunner().invoke(cli, ["models", *args])


@pytest.fixture
def gguf(tmp_path) -> Path:
    path = tmp_path / "mine.gguf"
    path.write_bytes(_gguf_bytes(16))
    return path


def test_add_path_model_with_settings_layers_over_the_shipped_registry(gguf, tmp_path):
    template = tmp_path / "t.jinja"
    template.write_text("{{ messages[0]['content'] }}\n\"quoted\" \\ back")
    result = run("add", "mine", str(gguf), "--n-ctx", "2048", "--n-gpu-layers", "-1",
                 "--chat-template", f"@{template}")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert str(models.user_registry_file()) in result.output
    specs, default = models.load_registry()
    assert default == "smollm2-135m" and "gemma3-270m" in specs  # shipped entries stay
    mine = specs["mine"]
    assert (mine.origin, mine.source, mine.path) == ("user", "path", str(gguf))
    assert (mine.n_ctx, mine.n_gpu_layers) == (2048, -1)
    assert mine.chat_template == template.read_text()
    spec, path = model_open.resolve_model("mine")
    assert spec == mine and path == gguf

    shown = run("show", "mine", "--json")
    row = json.loads(shown.stdout)
    assert row["origin"] == str(models.user_registry_file()) and row["pulled"] is True
    assert row["n_gpu_layers"] == -1 and row["size"] == gguf.stat().st_size
    listed = {r["name"]: r for r in json.loads(run("list", "--json").stdout)}
    assert listed["mine"]["origin"] == "user" and listed["phi-4"]["origin"] == "shipped"

    assert run("rm", "mine").exit_code == 0
    with pytest.raises(models.UnknownModelError):
        models.get_model("mine")


def test_add_hub_model_pins_the_revision():
    result = run("add", "qwen3", "hf:Qwen/Qwen3-8B-GGUF/sub/Qwen3-8B-Q4_K_M.gguf@abc123")
    assert result.exit_code == 0, result.output
    spec = models.get_model("qwen3")
    assert (spec.source, spec.repo, spec.file, spec.revision) == (
        "hf", "Qwen/Qwen3-8B-GGUF", "sub/Qwen3-8B-Q4_K_M.gguf", "abc123",
    )  # fmt: skip
    assert spec.filename == "Qwen3-8B-Q4_K_M.gguf" and spec.n_ctx == 4096


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["add", "x", "hf:only/repo"], "expected hf:OWNER/REPO/FILE.gguf", 2),
        (["add", "x", "hf:a/b/c.gguf@"], "expected hf:OWNER/REPO/FILE.gguf", 2),
        (["add", "x", "/no/such.gguf"], "model file not found", 1),
        (["add", "a/b", "hf:a/b/c.gguf"], "bad model name", 1),
        (["add", "smollm2-135m", "hf:a/b/c.gguf"], "already exists (shipped)", 1),
        (["rm", "gemma3-270m"], "is a shipped model", 1),
        (["rm", "gema3-270m"], "did you mean gemma3-270m", 1),
    ],
)
def test_bad_add_and_rm_are_one_line(args, message, code):
    result = run(*args)
    assert result.exit_code == code and message in result.output, result.output
    assert "Traceback" not in result.output


def test_a_user_entry_replaces_a_shipped_one_only_with_force(gguf):
    assert run("add", "phi-4", str(gguf)).exit_code == 1
    assert run("add", "phi-4", str(gguf), "--force").exit_code == 0
    assert models.get_model("phi-4").source == "path"
    assert run("rm", "phi-4").exit_code == 0
    assert models.get_model("phi-4").source == "hf"  # the shipped entry shows again


def test_a_broken_user_file_is_one_error_and_is_never_rewritten():
    file = models.user_registry_file()
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text("[models.x\n")
    result = run("list")
    assert result.exit_code == 1 and f"{file}: malformed TOML" in result.output
    assert run("add", "y", "hf:a/b/c.gguf").exit_code == 1
    assert file.read_text() == "[models.x\n"
    file.write_text('default = "nope"\n')
    assert "default model 'nope' is not an entry" in run("list").output


# --------------------------------------------------------------------------- hub pulls


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


def test_hub_pull_uses_the_hub_cache_without_copying(hub_cache, monkeypatch):
    import huggingface_hub

    data = _gguf_bytes(64)
    blob = _fill_hub_cache(hub_cache, "o/r", "m.gguf", data, "c" * 40)
    monkeypatch.setattr(huggingface_hub.HfApi, "get_paths_info", _offline)
    spec = models.ModelSpec("m", "", "hf", "m.gguf", repo="o/r", file="m.gguf")
    path = pulling.pull(spec)
    assert path == models.local_path(spec) and path.read_bytes() == data
    assert path.resolve() == blob.resolve()  # a link into the hub cache, not a copy
    assert models.is_pulled(spec)


def test_hub_pull_checks_the_hubs_sha256_and_pins_the_revision(hub_cache, monkeypatch):
    import huggingface_hub

    data = _gguf_bytes(64)
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
    spec = models.ModelSpec("m", "", "hf", "m.gguf", repo="o/r", file="m.gguf", revision="v1")
    with pytest.raises(DiscaError, match="is not the hub.s"):
        pulling.pull(spec)
    assert not models.local_path(spec).exists()
    assert asked["info"] == ("o/r", ["m.gguf"], "v1")
    assert asked["download"]["revision"] == "v1" and "local_dir" not in asked["download"]
    Lfs.sha256 = hashlib.sha256(data).hexdigest()
    assert pulling.pull(spec).read_bytes() == data


def test_hub_pull_offline_and_not_cached_says_what_to_do(hub_cache, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub.HfApi, "get_paths_info", _offline)
    spec = models.get_model("phi-4")
    with pytest.raises(DiscaError, match=r"hub unreachable.*models pull phi-4 --from FILE"):
        pulling.pull(spec)


def test_pull_from_a_file_links_instead_of_copying(gguf):
    data = gguf.read_bytes()
    spec = models.ModelSpec(
        "m", "", "hf", "m.gguf", repo="o/r", file="m.gguf",
        sha256=hashlib.sha256(data).hexdigest(), size=len(data),
    )  # fmt: skip
    path = pulling.pull(spec, from_file=gguf)
    assert path.stat().st_ino == gguf.stat().st_ino and path.stat().st_nlink == 2


def test_link_falls_back_to_a_copy_across_filesystems(gguf, tmp_path, monkeypatch):
    def cross_device(src, dst):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    pulling._link(gguf, tmp_path / "copy.gguf")
    assert (tmp_path / "copy.gguf").read_bytes() == gguf.read_bytes()
    assert (tmp_path / "copy.gguf").stat().st_ino != gguf.stat().st_ino


def test_first_time_hashing_reports_progress(gguf):
    seen = []
    digest = integrity.sha256_file(gguf, lambda done, total: seen.append((done, total)))
    assert digest == hashlib.sha256(gguf.read_bytes()).hexdigest()
    assert seen[-1] == (gguf.stat().st_size, gguf.stat().st_size)
    seen.clear()
    assert integrity.sha256_file(gguf, lambda d, t: seen.append(d)) == digest and seen == []
