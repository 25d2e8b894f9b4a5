"""Load-time decisions from the llama.cpp build and the CPU, as pure functions of their inputs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from disca_edge.engine import EngineOptions, _engine_settings, hardware

# This machine's CPU backend string (AMD EPYC, verbatim) and one with AMX_INT8 = 1, as issue 9
# reports for a Sapphire Rapids-class Xeon.
EPYC = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
    "AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | LLAMAFILE = 1 | "
    "OPENMP = 1 | REPACK = 1 | "
)
SAPPHIRE_RAPIDS = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | "
    "BMI2 = 1 | AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | "
    "AMX_INT8 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | "
)


def test_cpu_features_parse_every_pair():
    features = hardware.cpu_features(EPYC)
    assert features["AVX512"] and features["AVX2"]
    assert "AMX_INT8" not in features
    assert hardware.cpu_features("CPU : AVX2 = 0 | ")["AVX2"] is False


@pytest.mark.parametrize(
    ("info", "setting", "expected"),
    [
        (EPYC, "auto", True),
        (SAPPHIRE_RAPIDS, "auto", False),
        (SAPPHIRE_RAPIDS, "on", True),
        (EPYC, "off", False),
        ("CPU : AMX_INT8 = 0 | AVX2 = 1 | ", "auto", True),
    ],
)
def test_extra_buffers_auto_is_off_exactly_where_amx_is_reported(info, setting, expected):
    assert hardware.extra_buffers_on(setting, hardware.cpu_features(info)) is expected


def test_extra_buffers_setting_comes_from_argument_then_environment(monkeypatch):
    monkeypatch.delenv(hardware.EXTRA_BUFFERS_ENV, raising=False)
    assert hardware.resolve_extra_buffers() == "auto"
    monkeypatch.setenv(hardware.EXTRA_BUFFERS_ENV, "OFF")
    assert hardware.resolve_extra_buffers() == "off"
    assert hardware.resolve_extra_buffers("on") == "on"
    monkeypatch.setenv(hardware.EXTRA_BUFFERS_ENV, "maybe")
    with pytest.raises(ValueError, match="DISCA_EXTRA_BUFFERS must be one of auto, on, off"):
        hardware.resolve_extra_buffers()


def test_compute_path_uses_the_gpu_only_when_the_build_can():
    cpu = hardware.compute_path(0, gpu_offload_supported=True)
    assert (cpu.on_gpu, cpu.n_gpu_layers, cpu.flash_attn, cpu.warning) == (False, 0, 1, None)
    assert cpu.kv_type == "q8_0"
    gpu = hardware.compute_path(-1, gpu_offload_supported=True)
    assert (gpu.on_gpu, gpu.n_gpu_layers, gpu.flash_attn, gpu.kv_type) == (True, -1, -1, "f16")
    fallback = hardware.compute_path(20, gpu_offload_supported=False)
    assert (fallback.on_gpu, fallback.n_gpu_layers, fallback.flash_attn) == (False, 0, 1)
    assert fallback.kv_type == "q8_0"
    assert "20 GPU layers were requested" in fallback.warning


def test_version_range_and_the_ci_constraints_pin_agree():
    low, high = hardware.TESTED_LLAMA_CPP_PYTHON
    assert hardware.version_in_tested_range(low)
    assert not hardware.version_in_tested_range("0.2.90")
    assert not hardware.version_in_tested_range("9.0.0")
    assert not hardware.version_in_tested_range("not installed")
    constraints = Path(__file__).resolve().parents[2] / ".ci" / "constraints.txt"
    pinned = re.search(r"^llama-cpp-python==(\S+)$", constraints.read_text(), re.M).group(1)
    assert hardware.version_in_tested_range(pinned)


def test_untested_version_warns_once(caplog, monkeypatch):
    monkeypatch.setattr(hardware, "_warned", False)
    with caplog.at_level("WARNING", logger=hardware.__name__):
        hardware.warn_if_untested("0.2.0")
        hardware.warn_if_untested("0.2.0")
    assert len(caplog.records) == 1
    assert "llama-cpp-python 0.2.0 is installed" in caplog.text


class _FakeLlamaCpp:
    """What `_engine_settings` reads of llama_cpp: the CPU string and GPU support."""

    @staticmethod
    def llama_print_system_info() -> bytes:
        return EPYC.encode()

    @staticmethod
    def llama_supports_gpu_offload() -> bool:
        return False


def test_flash_attention_can_be_turned_off_over_an_unquantised_cache():
    default = _engine_settings(_FakeLlamaCpp, EngineOptions())
    assert (default["flash_attn"], default["kv_type"], default["n_ubatch"]) == (1, "q8_0", 512)
    off = _engine_settings(_FakeLlamaCpp, EngineOptions(kv_type="f16", flash_attn=False))
    assert (off["flash_attn"], off["kv_type"], off["n_ubatch"]) == (0, "f16", 63)
    with pytest.raises(ValueError, match="a q8_0 KV cache needs flash attention"):
        _engine_settings(_FakeLlamaCpp, EngineOptions(flash_attn=False))
