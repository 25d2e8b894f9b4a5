"""What a result records about the machine it was computed on (run headers, benchmarks)."""

from __future__ import annotations

import os
import platform
from typing import Any

__all__ = ["available_memory", "machine_info"]


def machine_info() -> dict[str, Any]:
    """Host name, OS, CPU and Python version: the fields run headers carry.

    Returns:
        ``node``, ``system``, ``machine``, ``processor``, ``cpu_count``, ``python`` and,
        where /proc/cpuinfo names it, ``cpu_model``.
    """
    uname = platform.uname()
    info: dict[str, Any] = {
        "node": uname.node,
        "system": f"{uname.system} {uname.release}",
        "machine": uname.machine,
        "processor": platform.processor() or uname.machine,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def available_memory() -> int | None:
    """Bytes of memory new processes can use now (Linux MemAvailable); None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None
