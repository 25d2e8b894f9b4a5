"""One CLI vocabulary (`commands._options`): the typed options commands get, one spelling each.

The decorators must build the `EngineOptions` the library opens (checked whole, through
a fake `open_engine`), and an option spelled the same in two commands must be the same
option: names, short forms, aliases, type and, for the shared vocabulary, default.
"""

from __future__ import annotations

import click
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from disca_edge.ask.run import ask_context
from disca_edge.cli import cli
from disca_edge.content import human_targets
from disca_edge.content.personas import load_panel
from disca_edge.engine.options import EngineOptions
from disca_edge.evals import worker
from disca_edge.maths import categories
from disca_edge.pipeline import panel_prompts


class _Opened(Exception):
    """Raised by the fake `open_engine` to stop the command once the options arrived."""


@pytest.fixture
def opened(monkeypatch):
    """Capture what `open_engine` receives; no model is loaded."""
    calls: list[dict] = []

    def fake_open_engine(options=None, *, fit=None, progress=None):
        calls.append({"options": options, "fit": fit})
        raise _Opened

    monkeypatch.setattr("disca_edge.commands.ask.open_engine", fake_open_engine)
    monkeypatch.setattr(worker, "open_engine", fake_open_engine)
    return calls


@pytest.fixture
def usa_targets(monkeypatch):
    frame = pd.DataFrame(np.full((1, 6), 0.7), index=["USA"], columns=list(categories.DIMENSIONS))
    monkeypatch.setattr(human_targets, "load_human_targets", lambda path=None: frame.copy())


def _leaves(command, path=()):
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _leaves(sub, (*path, name))
    else:
        yield " ".join(path), command


COMMANDS = dict(_leaves(cli))
MODEL_COMMANDS = {name: c for name, c in COMMANDS.items()
                  if any("--model" in p.opts for p in c.params)}  # fmt: skip
ENGINE_OPTIONS = ("--model", "--threads", "--n-ctx", "--n-gpu-layers", "--extra-buffers",
                  "--prefix-cache", "--gpu-layers")  # fmt: skip


def _options(command) -> dict[str, click.Option]:
    return {p.opts[0] if p.opts[0].startswith("--") else p.opts[-1]: p
            for p in command.params if isinstance(p, click.Option)}  # fmt: skip


def _shape(option: click.Option) -> tuple:
    """What makes two options the same option (help text aside)."""
    return (tuple(sorted(option.opts)), tuple(option.secondary_opts), option.hidden,
            option.is_flag, option.multiple, type(option.type).__name__)  # fmt: skip


# --------------------------------------------------------------------------- the tree


def test_the_model_loading_commands_are_ask_and_eval_multitp():
    assert set(MODEL_COMMANDS) == {"ask", "eval multitp"}


def test_every_model_loading_command_has_the_same_engine_options():
    first, *rest = MODEL_COMMANDS.values()
    reference = {name: _options(first)[name] for name in ENGINE_OPTIONS}
    for command in rest:
        options = _options(command)
        for name, option in reference.items():
            assert _shape(options[name]) == _shape(option), name
            assert options[name].default == option.default, name


def test_an_option_spelled_alike_is_the_same_option_everywhere():
    by_name: dict[str, list[tuple[str, click.Option]]] = {}
    for command_name, command in COMMANDS.items():
        for name, option in _options(command).items():
            by_name.setdefault(name, []).append((command_name, option))
    # the same spelling, another meaning: ask's --category sets T_cat, scenarios' filters;
    # `disca models add` stores a model's --n-ctx and --n-gpu-layers; --force and --from
    # replace or read different things. `disca personas` also spells --personas --dir;
    # `scenarios list --lang` also takes a language code (its default is checked below).
    # --noise-floor: N scenarios per country for `eval multitp`, a flag for one dilemma
    # (`ask`); --noise-setting is the same option in both.
    differ = {"--category", "--force", "--from", "--n-ctx", "--n-gpu-layers", "--personas",
              "--lang", "--noise-floor"}  # fmt: skip
    for name, seen in by_name.items():
        if name in differ:
            continue
        shapes = {_shape(option) for _, option in seen}
        assert len(shapes) == 1, (name, [c for c, _ in seen])


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_visible_default_is_in_the_help(command):
    ctx = click.Context(COMMANDS[command], info_name=command, show_default=True)
    for option in _options(COMMANDS[command]).values():
        default = option.default
        if option.hidden or default in (None, False, ()) or "UNSET" in repr(default):
            continue
        record = option.get_help_record(ctx)
        assert record is not None and "[default: " in record[1], (command, option.opts)


@pytest.mark.parametrize(
    "command", sorted(c for c in COMMANDS if "--lang" in _options(COMMANDS[c]))
)
def test_lang_defaults_to_native_everywhere(command):
    assert _options(COMMANDS[command])["--lang"].default == "native"


def test_the_shared_spellings():
    for name, command in COMMANDS.items():
        options = _options(command)
        if "--out" in options:
            assert "-o" in options["--out"].opts and "--output" in options, name
            assert options["--output"].hidden, name
        if "--country" in options:
            assert "-c" in options["--country"].opts and "--countries" in options, name
            assert options["--countries"].hidden, name
        assert "--format" not in options or "jsonl" not in options["--format"].type.choices


@pytest.mark.parametrize("command", sorted(MODEL_COMMANDS))
def test_help_lists_the_shared_options(command):
    result = CliRunner().invoke(cli, [*command.split(), "--help"])
    assert result.exit_code == 0, result.output
    for flag in ("--model", "-m,", "-t,", "--threads", "--n-ctx", "-ngl,", "--n-gpu-layers",
                 "--prefix-cache", "-c,", "--country", "--lang", "--seed", "--variant", "--param"):  # fmt: skip
        assert flag in result.output, flag
    assert "--gpu-layers " not in result.output  # the old name is a hidden alias


# --------------------------------------------------------------------------- what commands get


@pytest.mark.parametrize(
    "spelling", [["-ngl", "7"], ["--n-gpu-layers", "7"], ["--gpu-layers", "7"]]
)
def test_ask_builds_one_engine_options(opened, spelling):
    args = ["ask", "-c", "JP", "-m", "some-model", "-t", "3", "--n-ctx", "1024", *spelling]
    result = CliRunner().invoke(cli, [*args, "--seed", "5", "a boy", "a girl"])
    assert isinstance(result.exception, _Opened), result.output
    (call,) = opened  # opened once
    assert call["options"] == EngineOptions(
        model="some-model", n_threads=3, n_ctx=1024, n_gpu_layers=7, prefix_cache=True, seed=5
    )


def test_ask_sizes_for_its_panels_in_the_native_language_by_default(opened):
    result = CliRunner().invoke(cli, ["ask", "-c", "JP,DE", "--no-prefix-cache", "a", "b"])
    assert isinstance(result.exception, _Opened), result.output
    (call,) = opened
    assert call["options"] == EngineOptions(seed=42)  # every engine default, prefix cache off
    prompts = [panel_prompts(load_panel(c), "native") for c in ("JP", "DE")]
    assert call["fit"] == ask_context(prompts)
    assert [systems for systems, _ in call["fit"].panels] == [tuple(p.systems) for p in prompts]


def test_eval_builds_one_engine_options(opened, tmp_path, usa_targets):
    args = ["eval", "multitp", "--countries", "USA", "--out", str(tmp_path / "run"), "--limit", "1"]
    args += ["-m", "some-model", "-t", "2", "--n-ctx", "2048", "-ngl", "0", "--display", "none"]
    result = CliRunner().invoke(cli, args)
    assert isinstance(result.exception, _Opened), result.output
    (call,) = opened
    assert call["options"] == EngineOptions(
        model="some-model", n_threads=2, n_ctx=2048, n_gpu_layers=0, prefix_cache=True
    )
    assert [systems for systems, _ in call["fit"].panels] == [
        tuple(panel_prompts(load_panel("USA"), "native").systems)
    ]


def test_ask_c_is_still_country():
    result = CliRunner().invoke(cli, ["ask", "-c", "Atlantis", "a", "b"])
    assert result.exit_code == 1
    assert "unknown country 'Atlantis'" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "-c", "JP", "--gpu-layers", "2", "-ngl", "3", "a", "b"],
         "--gpu-layers is another name of --n-gpu-layers"),
        (["ask", "-c", "JP", "--countries", "US", "a", "b"], "--countries is another name of"),
        (["eval", "multitp", "--country", "JP", "--countries", "US", "--out", "x"],
         "--countries is another name of --country: give one, not both"),
        (["report", ".", "-o", "a.md", "--output", "b.md"], "--output is another name of --out"),
    ],
)  # fmt: skip
def test_two_spellings_with_two_values_are_a_usage_error(opened, args, message):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and message in result.output, result.output
    assert opened == []


def test_the_old_spellings_still_work(opened, tmp_path, usa_targets):
    args = ["eval", "multitp", "--countries", "USA", "--output", str(tmp_path / "r"),
            "--limit", "1", "--display", "none"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert isinstance(result.exception, _Opened), result.output
    assert opened[0]["options"].model is None  # the registry default
    (tmp_path / "file").write_text("")
    args[5] = str(tmp_path / "file")  # --output is checked as the run folder: a file is not one
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "'--output'" in result.output and "is a file" in result.output


def test_ask_passes_param_overrides_to_the_results(monkeypatch):
    from test_ask_cli import _ClosingEngine
    from test_ask_countries import FAKE_MODEL

    monkeypatch.setattr("disca_edge.commands.ask.open_engine",
                        lambda options=None, **kw: (_ClosingEngine(), FAKE_MODEL))  # fmt: skip
    args = ["ask", "-c", "JP", "--lang", "en", "--json", "--param", "eta=0.25", "a boy", "a girl"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert '"eta": 0.25' in result.stdout


@pytest.mark.parametrize("value", ["-2", "x"])
def test_bad_gpu_layers_is_a_usage_error(value):
    result = CliRunner().invoke(cli, ["ask", "-c", "JP", "-ngl", value, "a", "b"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_a_bad_param_is_one_line_before_any_model(opened):
    result = CliRunner().invoke(cli, ["ask", "-c", "JP", "--param", "nope=1", "a", "b"])
    assert result.exit_code == 1 and opened == []
    assert result.output.startswith("Error: ") and "unknown DISCA parameter 'nope'" in result.output
