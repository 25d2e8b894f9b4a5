"""Opening (`models.open`): a ``--model`` value to (registry entry or None, verified GGUF path)."""

from __future__ import annotations

import pytest
from gguf_files import write_gguf  # same folder (pytest puts it on sys.path)

from disca_edge.errors import DiscaError
from disca_edge.models.open import resolve_model


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
