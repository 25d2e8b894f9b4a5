"""Shell completion: countries and model names, through click's bash protocol."""

from __future__ import annotations

from click.testing import CliRunner

from disca_edge.cli import cli


def complete(words: str) -> list[str]:
    """What bash completion offers for the last word of `words` (click's bash protocol)."""
    parts = words.split(" ")
    env = {
        "_DISCA_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(parts) - 1),
    }
    result = CliRunner().invoke(cli, [], env=env, prog_name="disca")
    assert result.exit_code == 0, result.output
    return [line.split(",", 1)[1] for line in result.stdout.splitlines()]


def test_countries_complete_codes_and_comma_lists():
    assert complete("disca ask --country J") == ["JPN"]
    assert complete("disca ask --country p") == ["paper20"]
    assert complete("disca ask --country JPN,U") == ["JPN,USA"]
    assert "JPN" not in complete("disca ask --country JPN,")
    assert complete("disca personas show DE") == ["DEU"]
    assert complete("disca eval multitp --countries ET") == ["ETH"]


def test_countries_come_from_the_personas_folder_on_the_line(built_panels):
    assert complete(f"disca ask --personas {built_panels} --country ") == ["DEU", "JPN"]


def test_models_complete_registry_names_including_your_own():
    assert complete("disca ask --model smol") == ["smollm2-135m"]
    assert complete("disca models show phi") == ["phi-3.5-mini-instruct", "phi-4"]
    assert CliRunner().invoke(cli, ["models", "add", "mine", "hf:o/r/f.gguf"]).exit_code == 0
    assert complete("disca models rm mi") == ["mine"]
