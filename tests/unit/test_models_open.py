"""Opening (`models.open`): a ``--model`` value to a verified GGUF, opened once at its size."""

from __future__ import annotations

import pytest
from gguf_files import write_gguf  # same folder (pytest puts it on sys.path)

from disca_edge.engine import DEFAULT_N_CTX, ChatPrompt, EngineOptions
from disca_edge.errors import DiscaError
from disca_edge.models import open as model_open
from disca_edge.models.open import ContextTooSmallError, open_engine, resolve_model
from disca_edge.pipeline import ContextDemand


def test_resolve_model_accepts_a_gguf_path_and_rejects_a_corrupt_one(tmp_path):
    good = write_gguf(tmp_path / "m.gguf")
    spec, path = resolve_model(str(good))
    assert spec is None and path == good
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"nonsense")
    with pytest.raises(DiscaError, match="not a GGUF file"):
        resolve_model(str(bad))


def test_a_folder_or_an_unpulled_model_is_one_line(tmp_path):
    with pytest.raises(DiscaError, match=f"^{tmp_path}: is a directory; --model takes"):
        resolve_model(str(tmp_path))
    with pytest.raises(DiscaError, match="^model smollm2-135m is not pulled; run `disca models"):
        resolve_model("smollm2-135m", pull_missing=False)  # fresh DISCA_HOME


# --------------------------------------------------------------------------- open_engine


class _Chat:
    """A model's tokenizer stand-in: characters are tokens."""

    def render(self, prompt: ChatPrompt) -> str:
        return f"<s>{prompt.system}</s><u>{prompt.user}</u>"

    def tokenize(self, text: str) -> list[int]:
        return [ord(ch) for ch in text]

    def prefix_len(self, system: str) -> int:
        return len(f"<s>{system}</s>")


@pytest.fixture
def engines(monkeypatch):
    """`open_engine` builds this fake instead of loading weights; every construction is kept."""
    made: list = []

    class FakeEngine:
        def __init__(self, model_path, options, *, prefix_cache_dir=None, size_context=None):
            made.append(self)
            self.options = options
            self.n_ctx = options.n_ctx if size_context is None else size_context(_Chat())
            self.settings = {"n_ctx": self.n_ctx}

    monkeypatch.setattr(model_open, "Engine", FakeEngine)
    return made


def _demand(n_chars: int, reserve: int = 0) -> ContextDemand:
    """One panel whose prompts need about `n_chars` tokens (characters) in all."""
    systems = ("s" * (n_chars // 2),)
    return ContextDemand(((systems, ("u" * (n_chars // 2),)),), reserve)


def test_a_default_context_is_sized_up_once_with_one_warning(tmp_path, engines, caplog):
    gguf = write_gguf(tmp_path / "m.gguf")
    demand = _demand(6000, reserve=512)
    need = demand.tokens(_Chat())
    engine, info = open_engine(EngineOptions(model=str(gguf)), fit=demand)
    assert engines == [engine]  # opened once, at its final size
    assert engine.n_ctx == -(-(need + 512) // 256) * 256 > DEFAULT_N_CTX
    assert info.settings["n_ctx"] == engine.n_ctx
    (warning,) = [r.getMessage() for r in caplog.records if "sizing the context" in r.getMessage()]
    assert f"from {DEFAULT_N_CTX} to {engine.n_ctx}" in warning


def test_prompts_that_fit_keep_the_default_context(tmp_path, engines, caplog):
    gguf = write_gguf(tmp_path / "m.gguf")
    engine, _ = open_engine(EngineOptions(model=str(gguf)), fit=_demand(1000, reserve=512))
    assert engine.n_ctx == DEFAULT_N_CTX and len(engines) == 1
    assert not [r for r in caplog.records if "sizing" in r.getMessage()]


def test_a_given_context_is_kept_or_refused_in_one_line(tmp_path, engines):
    gguf = write_gguf(tmp_path / "m.gguf")
    demand = _demand(3000, reserve=512)
    need = demand.tokens(_Chat())
    engine, _ = open_engine(EngineOptions(model=str(gguf), n_ctx=need), fit=demand)
    assert engine.n_ctx == need  # fits without the reserve: the user's size stands
    with pytest.raises(ContextTooSmallError) as raised:
        open_engine(EngineOptions(model=str(gguf), n_ctx=need - 1), fit=demand)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(
        f"--n-ctx {need - 1} is too small for these prompts: they need {need}"
    )
    assert f"give --n-ctx {-(-need // 256) * 256} or more" in message


def test_without_fit_the_options_are_the_engine_s(tmp_path, engines):
    gguf = write_gguf(tmp_path / "m.gguf")
    engine, _ = open_engine(EngineOptions(model=str(gguf), n_threads=3))
    assert engine.options == EngineOptions(
        model=str(gguf), n_threads=3, n_ctx=DEFAULT_N_CTX, n_gpu_layers=0
    )  # the registry's defaults for a bare .gguf, filled in


def test_a_pull_under_a_new_disca_home_says_so_and_where_a_copy_is(tmp_path, monkeypatch, caplog):
    """DISCA_HOME points at an empty home: the model is pulled again, with one line saying
    why, and naming the copy in the platform cache (what `unset DISCA_HOME` would use)."""
    import platformdirs

    from disca_edge.models.registry import get_model, local_path

    platform_cache = tmp_path / "platform-cache"
    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda app: str(platform_cache))
    spec = get_model("smollm2-135m")
    pulled = []

    def fake_pull(spec, progress=None):  # no download: the file as a pull leaves it
        target = local_path(spec)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(write_gguf(tmp_path / "w.gguf").read_bytes())
        pulled.append(spec.name)
        return target

    monkeypatch.setattr(model_open, "pull", fake_pull)
    resolve_model("smollm2-135m")
    home = model_open.home()
    assert pulled == ["smollm2-135m"] and caplog.messages == [
        f"note: pulling smollm2-135m, 98 MB: the model cache under DISCA_HOME={home} lacks it"
    ]
    copy = platform_cache / "models" / "smollm2-135m" / spec.filename
    copy.parent.mkdir(parents=True)
    copy.write_bytes(b"")
    local_path(spec).unlink()
    caplog.clear()
    resolve_model("smollm2-135m")
    assert caplog.messages[0].endswith(
        f"lacks it (a copy is in {copy.parent}; unset DISCA_HOME to use that one)"
    )
    monkeypatch.delenv("DISCA_HOME")  # no DISCA_HOME: first use of the platform cache
    caplog.clear()
    copy.unlink()
    resolve_model("smollm2-135m")
    assert caplog.messages == [f"note: pulling smollm2-135m into {copy.parent} (first use, 98 MB)"]
