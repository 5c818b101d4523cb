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


def test_this_machine_matches_the_kernel() -> None:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        assert machine.cpu_flags() is None and machine.has_vnni() in (None, False)
        return
    text = cpuinfo.read_text()
    expected = ("avx512_vnni" in text.split() or "avx_vnni" in text.split()) if machine.is_x86_64() else None
    assert machine.has_vnni() == expected
