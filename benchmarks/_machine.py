"""What every benchmark records about the machine it ran on (shared by the benchmarks)."""

from __future__ import annotations

import os

import numpy as np

from disca_edge import __version__
from disca_edge.machine import machine_info as library_machine_info


def machine_info() -> dict:
    """CPU, OS, versions and the load before the run (other processes skew every figure)."""
    host = library_machine_info()
    info = {
        "processor": host["processor"],
        "uname": f"{host['system']} {host['machine']}",
        "python": host["python"],
        "numpy": np.__version__,
        "disca_edge": __version__,
        "cpu_count": host["cpu_count"],
    }
    if "cpu_model" in host:
        info["cpu_model"] = host["cpu_model"]
    if hasattr(os, "getloadavg"):
        info["loadavg_1m_before"] = round(os.getloadavg()[0], 2)
    if hasattr(os, "sched_getaffinity"):
        info["affinity"] = sorted(os.sched_getaffinity(0))
    return info
