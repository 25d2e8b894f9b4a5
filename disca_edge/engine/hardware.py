"""What the llama.cpp build and this CPU can do, and the load settings that follow from it.

The decisions (`extra_buffers_on`, `compute_path`, `version_in_tested_range`) are pure
functions of their inputs, so they are tested without the hardware they are about.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass

__all__ = [
    "build_info",
    "EXTRA_BUFFERS",
    "EXTRA_BUFFERS_ENV",
    "TESTED_LLAMA_CPP_PYTHON",
    "ComputePath",
    "compute_path",
    "cpu_features",
    "extra_buffers_on",
    "resolve_extra_buffers",
    "version_in_tested_range",
    "warn_if_untested",
]

log = logging.getLogger(__name__)

#: Choices for the ``extra_buffers`` engine setting (llama.cpp's CPU weight repacking).
EXTRA_BUFFERS = ("auto", "on", "off")
EXTRA_BUFFERS_ENV = "DISCA_EXTRA_BUFFERS"

#: The llama-cpp-python versions CI tests, inclusive (`.ci/constraints.txt` pins one of them).
TESTED_LLAMA_CPP_PYTHON = ("0.3.36", "0.3.36")

#: CPU features `disca doctor` reports, as llama.cpp's system info names them.
REPORTED_FEATURES = ("AMX_INT8", "AMX_BF16", "AVX512", "AVX512_VNNI", "AVX512_BF16", "AVX2")


def build_info() -> dict:
    """llama.cpp's version, system info and GPU offload support, or why they are unavailable."""
    try:
        import llama_cpp
    except ImportError as exc:  # pragma: no cover - depends on the environment
        return {"error": f"llama_cpp is not importable ({exc})"}
    version = getattr(llama_cpp, "llama_version", None)
    return {
        "llama_cpp": version().decode() if callable(version) else "unknown",
        "system_info": llama_cpp.llama_print_system_info().decode(errors="replace").strip(),
        "gpu_offload": bool(llama_cpp.llama_supports_gpu_offload()),
    }


def cpu_features(system_info: str) -> dict[str, bool]:
    """Features named in a ``llama_print_system_info()`` string, e.g. ``AVX2 = 1 |``.

    Args:
        system_info: the string (every backend's ``NAME = value`` pairs).

    Returns:
        {feature name: enabled} for every pair found.
    """
    return {name: value != "0" for name, value in re.findall(r"(\w+) = (\w+)", system_info)}


def resolve_extra_buffers(setting: str | None = None) -> str:
    """The extra-buffers setting to use: `setting`, else ``$DISCA_EXTRA_BUFFERS``, else auto.

    Raises:
        ValueError: the value is not one of auto, on, off.
    """
    source = "extra_buffers"
    if setting is None:
        setting, source = os.environ.get(EXTRA_BUFFERS_ENV) or "auto", EXTRA_BUFFERS_ENV
    value = setting.strip().lower()
    if value not in EXTRA_BUFFERS:
        raise ValueError(f"{source} must be one of auto, on, off; got {setting!r}")
    return value


def extra_buffers_on(setting: str, features: dict[str, bool]) -> bool:
    """Whether to load weights with llama.cpp's extra buffer types (CPU repacking).

    ``auto`` turns them off where the CPU backend reports AMX: llama.cpp's AMX repack
    path crashes there (ggml-org/llama.cpp#20824). Elsewhere repacking speeds up
    Q4_0-class weights on AVX2/AVX-512, so it stays on.
    """
    if setting == "auto":
        return not any(on for name, on in features.items() if name.startswith("AMX"))
    return setting == "on"


@dataclass(frozen=True)
class ComputePath:
    """Where the model runs and the kernel settings that go with it.

    Attributes:
        on_gpu: layers are offloaded to a GPU.
        n_gpu_layers: layers offloaded (0 on the CPU path).
        flash_attn: llama.cpp ``flash_attn_type`` (1 = on, -1 = auto).
        kv_type: default KV-cache element type.
        warning: why the requested GPU layers were not used, or None.
    """

    on_gpu: bool
    n_gpu_layers: int
    flash_attn: int
    kv_type: str
    warning: str | None = None


def compute_path(requested_gpu_layers: int, gpu_offload_supported: bool) -> ComputePath:
    """Pick the CPU or GPU path from the build's GPU support and the requested layers.

    The CPU path always uses flash attention with a q8_0 KV cache: for that cache type
    ggml's CPU flash attention only has its per-row kernel, which keeps shared-prefix
    logits bit-identical to isolated evaluation at any micro-batch size. A GPU build with
    layers requested lets llama.cpp choose (auto) over an f16 cache.
    """
    requested = int(requested_gpu_layers)
    if requested != 0 and gpu_offload_supported:
        return ComputePath(on_gpu=True, n_gpu_layers=requested, flash_attn=-1, kv_type="f16")
    warning = None
    if requested != 0:
        warning = (
            f"{requested} GPU layers were requested but this llama-cpp-python build has no GPU "
            "offload; running on the CPU (reinstall llama-cpp-python with a GPU backend)"
        )
    return ComputePath(on_gpu=False, n_gpu_layers=0, flash_attn=1, kv_type="q8_0", warning=warning)


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def version_in_tested_range(
    version: str, tested: tuple[str, str] = TESTED_LLAMA_CPP_PYTHON
) -> bool:
    """Whether a llama-cpp-python version lies in the tested range (inclusive)."""
    if not re.match(r"\d", version):
        return False
    low, high = (_version_tuple(v) for v in tested)
    return low <= _version_tuple(version) <= high


_warned = False


def warn_if_untested(version: str) -> None:
    """Log one warning per process when llama-cpp-python is outside the tested range."""
    global _warned
    if _warned or version_in_tested_range(version):
        return
    _warned = True
    low, high = TESTED_LLAMA_CPP_PYTHON
    tested = low if low == high else f"{low} to {high}"
    log.warning(
        "llama-cpp-python %s is installed; disca-edge is tested with %s "
        "(logits and speed may differ; `disca doctor` shows the details)",
        version,
        tested,
    )
