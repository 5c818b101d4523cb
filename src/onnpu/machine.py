"""Facts about the machine onnpu runs on: architecture, whether the HTP is the x86_64 emulator, memory."""

from __future__ import annotations

import os
import platform
import sys
from typing import Any

X86_64 = ("x86_64", "amd64")


def is_x86_64() -> bool:
    return platform.machine().lower() in X86_64


def htp_is_emulated() -> bool:
    """On an x86_64 host, onnxruntime-qnn's HTP backend is an emulator that runs HTP graphs on the CPU."""
    return is_x86_64()


def rss_mb() -> float:
    """Resident memory of this process now."""
    import psutil

    return float(psutil.Process().memory_info().rss) / 1e6


def peak_rss_mb() -> float:
    """Peak resident memory of this process (MiB). psutil gives the peak on Windows (``peak_wset``); on Linux
    only the kernel's high-water mark (``VmHWM``) is right: ``ru_maxrss`` survives exec, so a child started by
    a big parent would report the parent's peak."""
    import psutil

    peak = getattr(psutil.Process().memory_info(), "peak_wset", None)
    if peak:
        return float(peak) / (1 << 20)
    if sys.platform.startswith("linux"):
        try:
            with open(f"/proc/{os.getpid()}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
    try:
        import resource  # POSIX only
    except ImportError:
        return rss_mb() * 1e6 / (1 << 20)
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / (1 << 20)


def machine_info() -> dict[str, Any]:
    import onnxruntime as ort

    return {"machine": platform.machine(), "system": platform.system(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "onnxruntime": ort.__version__, "processor": platform.processor() or None}
