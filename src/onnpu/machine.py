"""Facts about the machine onnpu runs on: architecture, CPU features, whether the HTP is the x86_64 emulator,
memory."""

from __future__ import annotations

import os
import platform
import sys
from typing import Any

X86_64 = ("x86_64", "amd64")


def is_x86_64() -> bool:
    return platform.machine().lower() in X86_64


VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni"})  # x86 int8 dot products (AVX-512 VNNI, AVX-VNNI)


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str] | None:
    """The CPU's feature flags as the Linux kernel reports them (``flags`` on x86, ``Features`` on Arm);
    None where they cannot be read (another OS, no /proc)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip().lower() in ("flags", "features"):
                    return frozenset(value.split())
    except OSError:
        return None
    return None


def has_vnni(flags: frozenset[str] | None = None) -> bool | None:
    """Whether this x86 CPU has VNNI int8 dot-product instructions (which ONNX Runtime's int8 kernels use
    instead of saturating 16-bit sums); None when unknown or not an x86 CPU."""
    if not is_x86_64():
        return None
    found = cpu_flags() if flags is None else flags
    return None if found is None else bool(found & VNNI_FLAGS)


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
