"""The registry (`models.registry`): shipped `models.toml`, the user's own on top, `disca models`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from gguf_files import write_gguf  # same folder (pytest puts it on sys.path)

from disca_edge.cli import cli
from disca_edge.models import registry as models
from disca_edge.models.open import resolve_model


def run(*args: str):
    return CliRunner().invoke(cli, ["models", *args])


@pytest.fixture
def gguf(tmp_path) -> Path:
    return write_gguf(tmp_path / "mine.gguf", 16)


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


def test_models_cli_list_json_and_path():
    runner = CliRunner()
    listed = json.loads(runner.invoke(cli, ["models", "list", "--json"]).output)
    assert [m["name"] for m in listed][:2] == ["smollm2-135m", "gemma3-270m"]
    assert all(m["pulled"] is False for m in listed)  # fresh DISCA_HOME
    path = runner.invoke(cli, ["models", "path", "smollm2-135m"]).output.strip()
    assert path.endswith("smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf")
    bad = runner.invoke(cli, ["models", "path", "nope"])
    assert bad.exit_code == 1 and "unknown model 'nope'" in bad.output


# --------------------------------------------------------------------------- the user's models.toml


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
    spec, path = resolve_model("mine")
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


def test_adding_a_file_that_is_not_a_gguf_is_one_line(tmp_path):
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"<html>404</html>")
    result = run("add", "fake", str(fake))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{fake}: not a GGUF file" in result.output
    with pytest.raises(models.UnknownModelError):
        models.get_model("fake")  # nothing was written


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


@pytest.mark.parametrize(
    ("line", "field", "expected"),
    [
        ("n_ctx = 100", "n_ctx", "an integer of at least 512 (tokens), got 100"),
        ('n_ctx = "big"', "n_ctx", "an integer of at least 512 (tokens), got 'big'"),
        ("n_ctx = true", "n_ctx", "an integer of at least 512 (tokens), got True"),
        ("n_ctx = 4096.0", "n_ctx", "an integer of at least 512 (tokens), got 4096.0"),
        (
            "n_gpu_layers = -2",
            "n_gpu_layers",
            "an integer of at least -1 (-1 = all layers), got -2",
        ),
        ("size = 0", "size", "a positive integer (bytes), got 0"),
        ('sha256 = "abc"', "sha256", "64 hexadecimal digits, got 'abc'"),
        (
            'filename = "../../evil.gguf"',
            "filename",
            "a file name (no folder), got '../../evil.gguf'",
        ),
        ("description = 3", "description", "text, got 3"),
        ('languages = "en"', "languages", "a list of strings, got 'en'"),
    ],
)
def test_bad_field_values_are_refused_when_the_registry_is_read(gguf, line, field, expected):
    file = models.user_registry_file()
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(f'[models.mine]\nsource = "path"\npath = "{gguf}"\n{line}\n')
    for args in (("list",), ("show", "mine"), ("show", "smollm2-135m", "--json")):
        result = run(*args)
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        assert result.stderr.strip() == f"Error: {file}: [models.mine] {field} must be {expected}"


def test_a_model_name_that_is_not_a_folder_name_is_refused(gguf):
    file = models.user_registry_file()
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(f'[models."../escape"]\nsource = "path"\npath = "{gguf}"\n')
    result = run("list")
    assert result.exit_code == 1 and "[models.../escape]: a model name is letters" in result.output
