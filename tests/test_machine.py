"""CPU features read from the kernel: the demo explains int8 saturation by a missing VNNI only where it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from onnpu import machine


def test_cpu_flags_from_cpuinfo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "is_x86_64", lambda: True)
    with_vnni = tmp_path / "a"
    with_vnni.write_text("processor\t: 0\nmodel name\t: CPU\nflags\t\t: fpu sse avx2 avx512f avx512_vnni\n\n")
    avx2 = tmp_path / "b"
    avx2.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 fma\n")
    assert machine.cpu_flags(str(with_vnni)) == {"fpu", "sse", "avx2", "avx512f", "avx512_vnni"}
    assert machine.has_vnni(machine.cpu_flags(str(with_vnni))) is True
    assert machine.has_vnni(frozenset({"avx2", "avx_vnni"})) is True
    assert machine.has_vnni(machine.cpu_flags(str(avx2))) is False
    assert machine.cpu_flags(str(tmp_path / "missing")) is None


def test_this_machine_agrees_with_cpuid() -> None:
    """onnpu reads the kernel's flags (/proc/cpuinfo); numpy asks the CPU itself (CPUID, and whether the OS
    enabled the registers): on this machine both say the same about AVX-512 VNNI."""
    from numpy._core._multiarray_umath import __cpu_features__ as cpuid

    if not machine.is_x86_64():
        assert machine.has_vnni() is None  # VNNI is an x86 question: unknown elsewhere, never "missing"
        return
    flags = machine.cpu_flags()
    assert flags is not None, "an x86_64 Linux machine without /proc/cpuinfo"
    assert ("avx512_vnni" in flags) == bool(cpuid.get("AVX512VNNI"))
    if cpuid.get("AVX512VNNI"):
        assert machine.has_vnni() is True
    elif "avx_vnni" not in flags:  # numpy has no key for the 256-bit AVX-VNNI: only its absence is checked
        assert machine.has_vnni() is False
