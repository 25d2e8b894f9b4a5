"""`check_gguf` on the real pulled GGUFs: agrees with the `gguf` package's reader, and is quick."""

from __future__ import annotations

import time

import gguf
import pytest

from disca_edge.errors import DiscaError
from disca_edge.models.gguf import check_gguf


@pytest.mark.slow
def test_check_gguf_reads_smollm2_as_the_reference_reader_does(smollm2_path):
    started = time.perf_counter()
    info = check_gguf(smollm2_path)
    took = time.perf_counter() - started
    reader = gguf.GGUFReader(smollm2_path)  # decodes every value: seconds, once is enough
    assert info.version == int(reader.fields["GGUF.version"].parts[0][0])
    assert info.n_kv == int(reader.fields["GGUF.kv_count"].parts[0][0])
    assert info.n_tensors == len(reader.tensors)
    assert info.data_end == max(t.data_offset + t.n_bytes for t in reader.tensors)
    assert info.data_end <= info.size == smollm2_path.stat().st_size
    assert took < 2.0  # tens of milliseconds on an idle core; the reference takes seconds


def test_check_gguf_accepts_gemma3_and_catches_a_cut_copy(gemma_path, tmp_path):
    info = check_gguf(gemma_path)
    assert info.version == 3 and info.n_tensors > 100 and info.data_end <= info.size
    cut = tmp_path / "cut.gguf"
    with gemma_path.open("rb") as src, cut.open("wb") as out:
        out.write(src.read(16 << 20))  # the header (6.5 MB of vocabulary) and some data
        out.truncate(info.data_end - 4096)  # the rest a hole: sized like a cut download
    with pytest.raises(DiscaError) as caught:
        check_gguf(cut)
    message = str(caught.value)
    assert message.startswith(f"{cut}: truncated GGUF (") and "\n" not in message
