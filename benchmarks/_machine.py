"""What every benchmark records about the machine it ran on (shared by the benchmarks)."""

from __future__ import annotations

import os
import platform

import numpy as np

from disca_edge import __version__


def machine_info() -> dict:
    """CPU, OS, versions and the load before the run (other processes skew every figure)."""
    uname = platform.uname()
    info = {
        "processor": platform.processor() or uname.machine,
        "uname": f"{uname.system} {uname.release} {uname.machine}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "disca_edge": __version__,
        "cpu_count": os.cpu_count(),
    }
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    if hasattr(os, "getloadavg"):
        info["loadavg_1m_before"] = round(os.getloadavg()[0], 2)
    if hasattr(os, "sched_getaffinity"):
        info["affinity"] = sorted(os.sched_getaffinity(0))
    return info
