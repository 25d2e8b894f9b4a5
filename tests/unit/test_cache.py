"""`disca cache list|clear`: pulled models and saved prefix KV states."""

from __future__ import annotations

import json

from click.testing import CliRunner

from disca_edge.cli import cli
from disca_edge.models import cache
from disca_edge.models import registry as models
from disca_edge.paths import cache_dir


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["cache", *args], input=input)


def fill(tmp_path):
    """A pulled SmolLM2 stand-in, a hub link and two KV folders (one of a known model)."""
    root = cache_dir()
    smol = models.get_model("smollm2-135m")
    (root / "models" / "smollm2-135m").mkdir(parents=True)
    (root / "models" / "smollm2-135m" / smol.filename).write_bytes(b"x" * 3000)
    (root / "models" / "phi-4").mkdir(parents=True)
    blob = tmp_path / "blob"
    blob.write_bytes(b"y" * 5000)
    (root / "models" / "phi-4" / "phi-4-Q4_K_M.gguf").symlink_to(blob)
    for folder, n in ((smol.sha256[:32], 2), ("f" * 32, 1)):
        (root / "kv" / folder).mkdir(parents=True)
        for i in range(n):
            (root / "kv" / folder / f"{i}.kv").write_bytes(b"z" * 1000)
    (root / "sha256.json").write_text("{}")


def test_list_names_models_and_kv_states_with_sizes(tmp_path):
    fill(tmp_path)
    rows = json.loads(run("list", "--json").stdout)
    got = [(r["kind"], r["name"], r["files"], r["size"], r["links"]) for r in rows]
    assert got == [
        ("models", "phi-4", 0, 0, 1),
        ("models", "smollm2-135m", 1, 3000, 0),
        ("kv", "smollm2-135m", 2, 2000, 0),
        ("kv", "f" * 32, 1, 1000, 0),
    ]
    table = run().stdout
    assert "smollm2-135m" in table and "0 (+1 hub link)" in table
    assert "0.0 MB" in table and "total" in table


def test_clear_kv_only_asks_first_and_keeps_models(tmp_path):
    fill(tmp_path)
    result = run("clear", "--kv", input="n\n")
    assert result.exit_code == 1 and "delete 2 cache folder(s), 0.0 MB?" in result.output
    assert len(cache.select(["kv"])) == 2
    result = run("clear", "--kv", "--yes")
    assert result.exit_code == 0 and "cleared 2 folder(s)" in result.output
    assert [e.kind for e in cache.entries()] == ["models", "models"]
    assert not (cache_dir() / "kv" / ("f" * 32)).exists()


def test_clear_by_name_removes_that_models_files_and_states(tmp_path):
    fill(tmp_path)
    result = run("clear", "smollm2-135m", "-y")
    assert result.exit_code == 0 and "cleared 2 folder(s)" in result.output
    assert [(e.kind, e.name) for e in cache.entries()] == [("models", "phi-4"), ("kv", "f" * 32)]
    assert (tmp_path / "blob").read_bytes() == b"y" * 5000  # the hub cache's bytes stay
    assert not (cache_dir() / "sha256.json").exists()
    assert run("clear", "nothing-here", "-y").stdout.strip() == "nothing to clear"


def test_clear_removes_staging_folders_that_killed_pulls_left(tmp_path):
    fill(tmp_path)
    stale = cache_dir() / "models" / "smollm2-135m" / f".pull-{2**22 + 7}-abc"
    stale.mkdir()
    (stale / "SmolLM2.gguf.part").write_bytes(b"x" * 4096)
    assert run("clear", "--kv", "--yes").exit_code == 0
    assert not stale.exists()
    assert (cache_dir() / "models" / "smollm2-135m").is_dir()  # the model stays
