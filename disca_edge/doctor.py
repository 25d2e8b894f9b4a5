"""`disca doctor`: what this installation runs on (versions, CPU, GPU, folders, models)."""

from __future__ import annotations

from . import __version__, paths
from .engine import hardware, llama_cpp_version
from .models.registry import RegistryError, is_pulled, load_registry, local_path

__all__ = ["diagnose"]


def diagnose() -> dict:
    """Everything `disca doctor` prints, as one JSON-able dict."""
    build = hardware.build_info()
    features = hardware.cpu_features(build.get("system_info", ""))
    installed = llama_cpp_version()
    low, high = hardware.TESTED_LLAMA_CPP_PYTHON
    try:
        setting = hardware.resolve_extra_buffers()
        buffers = {"setting": setting, "on": hardware.extra_buffers_on(setting, features)}
    except ValueError as exc:
        buffers = {"error": str(exc)}
    try:
        specs, default = load_registry()
        pulled = [
            {"name": spec.name, "path": str(local_path(spec)), "default": name == default}
            for name, spec in specs.items()
            if is_pulled(spec)
        ]
    except RegistryError as exc:
        pulled = [{"error": str(exc)}]
    return {
        "versions": {
            "disca_edge": __version__,
            "llama_cpp_python": installed,
            "llama_cpp_python_tested": low if low == high else f"{low} to {high}",
            "llama_cpp_python_in_tested_range": hardware.version_in_tested_range(installed),
            "llama_cpp": build.get("llama_cpp", build.get("error")),
        },
        "cpu": {name: features.get(name, False) for name in hardware.REPORTED_FEATURES},
        "system_info": build.get("system_info", ""),
        "gpu_offload": build.get("gpu_offload", False),
        "extra_buffers": buffers,
        "folders": {
            "DISCA_HOME": str(paths.home()) if paths.home() else None,
            "cache": str(paths.cache_dir()),
            "data": str(paths.data_dir()),
            "prefix_states": str(paths.cache_dir() / "kv"),
            "shipped": str(paths.shipped_dir()),
        },
        "models_pulled": pulled,
    }
