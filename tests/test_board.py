"""`onnpu doctor` on a board, against fake system trees built here (ONNPU_SYSROOT points every sysfs, /dev and
library look-up at them): each check passes on a healthy RB3 Gen 2 tree and fails, with its fix, on a broken
one; and the board errors users meet are translated into their cause and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

import models
from onnpu import jsonio
from onnpu.cli import main
from onnpu.runtime.board_checks import board_checks, dsp_search_path, windows_python_check
from onnpu.runtime.failures import BOARD_ERRORS, board_error, explain_failure
from onnpu.runtime.native_log import CapturedLog
from onnpu.runtime.targets import get_target

VERSION = b"\x00hexnn_ver_v2.51.0.260929181845\x00"


def board_tree(root: Path, *, skel_version: bytes = VERSION, cdsp: str = "running", devices: bool = True,
               libcdsprpc: bool = True, skel_dir: str = "usr/lib/dsp/cdsp") -> Path:
    soc0 = root / "sys/devices/soc0"
    soc0.mkdir(parents=True)
    (soc0 / "soc_id").write_text("498\n")
    (soc0 / "machine").write_text("QCS6490\n")
    dt = root / "sys/firmware/devicetree/base"
    dt.mkdir(parents=True)
    (dt / "model").write_bytes(b"Qualcomm Technologies, Inc. Robotics RB3gen2\x00")
    proc = root / "sys/class/remoteproc/remoteproc1"
    proc.mkdir(parents=True)
    (proc / "name").write_text("cdsp\n")
    (proc / "state").write_text(cdsp + "\n")
    if skel_dir:
        (root / skel_dir).mkdir(parents=True)
        (root / skel_dir / "libQnnHtpV68Skel.so").write_bytes(b"ELF" + skel_version)
    if devices:
        (root / "dev/dma_heap").mkdir(parents=True)
        (root / "dev/fastrpc-cdsp").write_bytes(b"")
        (root / "dev/dma_heap/system").write_bytes(b"")
    if libcdsprpc:
        (root / "usr/lib").mkdir(parents=True, exist_ok=True)
        (root / "usr/lib/libcdsprpc.so.1").write_bytes(b"ELF")
        (root / "usr/lib/libcdsprpc.so").symlink_to("libcdsprpc.so.1")  # the unversioned name the stubs load
        (root / "usr/lib/libatomic.so.1").write_bytes(b"ELF")
    return root


def wheel(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "libQnnHtp.so").write_bytes(b"ELF" + VERSION)
    (folder / "libQnnHtpV68Stub.so").write_bytes(b"ELF" + VERSION)
    (folder / "libQnnHtpV68Skel.so").write_bytes(b"ELF" + VERSION)
    return folder


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("ONNPU_SOC", "ADSP_LIBRARY_PATH", "DSP_LIBRARY_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ONNPU_CONFIG", str(tmp_path / "none.toml"))


def test_healthy_rb3_gen2_passes_every_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONNPU_SYSROOT", str(board_tree(tmp_path / "root")))
    ident, checks = board_checks(wheel(tmp_path / "wheel"))
    assert ident.soc is not None and ident.soc.name == "QCS6490" and ident.soc_id == 498
    assert [(c.name, c.passed) for c in checks] == [("SoC identity", True), ("HTP skeleton", True),
                                                    ("FastRPC devices", True), ("cDSP", True), ("libcdsprpc", True),
                                                    ("libatomic", True), ("one QNN release", True)]
    assert "QCS6490 (HTP v68, soc_model 93)" in checks[0].detail and "soc_id 498" in checks[0].detail
    assert "2.51.0.260929181845" in checks[6].detail


def test_broken_board_fails_each_check_with_its_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = board_tree(tmp_path / "root", cdsp="offline", devices=False, libcdsprpc=False, skel_dir="")
    monkeypatch.setenv("ONNPU_SYSROOT", str(root))
    monkeypatch.setenv("ADSP_LIBRARY_PATH", "/opt/qnn/lib:/usr/lib/dsp")  # ':' is not the separator
    wheel_dir = wheel(tmp_path / "wheel")
    _, checks = board_checks(wheel_dir)
    by = {c.name: c for c in checks}
    assert not by["HTP skeleton"].passed
    assert "split on ';', not ':'" in by["HTP skeleton"].detail and "onnxruntime-qnn wheel" in by["HTP skeleton"].detail
    assert f'ADSP_LIBRARY_PATH="{wheel_dir}' in by["HTP skeleton"].fix
    assert not by["FastRPC devices"].passed and "/dev/fastrpc-cdsp" in by["FastRPC devices"].detail
    assert not by["cDSP"].passed and "offline" in by["cDSP"].detail
    assert "echo start | sudo tee /sys/class/remoteproc/remoteproc1/state" in by["cDSP"].fix
    assert not by["libcdsprpc"].passed and "qcom-fastrpc1" in by["libcdsprpc"].fix


def test_skeleton_from_another_qnn_release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = board_tree(tmp_path / "root", skel_version=b"\x00v2.29.0.241129103708\x00")
    monkeypatch.setenv("ONNPU_SYSROOT", str(root))
    _, checks = board_checks(wheel(tmp_path / "wheel"))
    release = next(c for c in checks if c.name == "one QNN release")
    assert not release.passed and "2.29.0" in release.detail and "2.51.0" in release.detail


def test_dsp_search_path_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONNPU_SYSROOT", str(tmp_path))
    (tmp_path / "a").mkdir()
    folders, problems = dsp_search_path({"ADSP_LIBRARY_PATH": "/a;/missing"})
    assert folders[:2] == ["/a", "/missing"] and "/usr/lib/rfsa/adsp" in folders
    assert problems == ["ADSP_LIBRARY_PATH names a missing folder '/missing'"]
    folders, problems = dsp_search_path({"ADSP_LIBRARY_PATH": "/a", "DSP_LIBRARY_PATH": "/b"})
    assert folders[0] == "/b" and "ADSP_LIBRARY_PATH is ignored" in problems[0]


def test_doctor_on_a_board_reports_the_checks_and_fails_on_a_broken_one(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ONNPU_SYSROOT", str(board_tree(tmp_path / "root", cdsp="offline")))
    assert main(["doctor", "--no-selftest", "--json"]) == 1
    data = jsonio.loads(capsys.readouterr().out)
    assert data["soc"]["name"] == "QCS6490" and data["soc"]["source"].startswith("detected")
    assert data["board_identity"]["soc_id"] == 498
    cdsp = next(c for c in data["board"] if c["name"] == "cDSP")
    assert cdsp["passed"] is False
    assert main(["doctor", "--no-selftest"]) == 1
    text = capsys.readouterr().out
    assert "FAIL cDSP" in text and "fix: start it" in text


def test_windows_on_snapdragon_needs_an_arm64_python() -> None:
    bad = windows_python_check("AMD64", "ARMv8 (64-bit) Family 8 Model 1 Revision 201, Qualcomm Technologies Inc")
    assert not bad.passed and "ARM64 build of Python" in bad.fix
    assert windows_python_check("ARM64", "ARMv8 (64-bit) Family 8, Qualcomm Technologies Inc").passed
    assert windows_python_check("AMD64", "Intel64 Family 6 Model 154, GenuineIntel").passed


# Lines as boards print them (QNN's and FastRPC's own wording, prefixes and codes included), written here
# independently of the table under test, each with words its cause and fix must contain.
BOARD_LOG_LINES = [
    ("  <E> Failed to create transport for device, error: 4000", "skeleton library", "ADSP_LIBRARY_PATH"),
    ("QnnDsp <E> Failed to load skel, error: 4000", "skeleton library", "libQnnHtpV<arch>Skel.so"),
    ("QnnDsp <E> Transport layer setup failed: 14001", "DSP transport", "cDSP state"),
    ("remote_handle64_open: ERROR 0x4e untrusted app trying to offload to signed remote process", "signed",
     "unsigned PD"),
    ("QnnDsp <E> Failed to retrieve skel build id : err: 1003", "skeleton library", "one QNN release"),
    ("QnnDsp <E> Failed to create context from binary with err 0x138d: QNN_CONTEXT_ERROR_CREATE_FROM_BINARY",
     "another SoC", "onnpu compile"),
    ("QnnDsp <E> Stub lib id mismatch: expected (v2.51.0.260929181845), detected (v2.45.0.250207083545)",
     "different QNN releases", "one QNN release"),
    ("dlopen failed: libcdsprpc.so: cannot open shared object file: No such file or directory", "FastRPC",
     "qcom-fastrpc1"),
    ("Failed to finalize QNN graph. Error: QNN_COMMON_ERROR_MEM_ALLOC: Memory allocation related error., Code: 1002",
     "finalize the graph", "memory"),
]


@pytest.mark.parametrize(("line", "cause_words", "fix_words"), BOARD_LOG_LINES)
def test_known_board_errors_are_translated(line: str, cause_words: str, fix_words: str) -> None:
    found = board_error(line)
    assert found is not None and cause_words in found[0]
    log = CapturedLog(f"[E:qnn] {line}", [f"[E:qnn] {line}"])
    error = explain_failure("QNN SetupBackend failed", log, get_target("npu"), models.qdq_conv(), "m.onnx")
    assert error is not None and "the NPU session failed on QCS6490 HTP v68" in str(error)
    assert fix_words in (error.hint or "")


def test_every_known_board_error_has_a_real_line() -> None:
    assert all(any(pattern in line for line, _, _ in BOARD_LOG_LINES) for pattern, _, _ in BOARD_ERRORS)


def test_context_binary_error_5005_is_translated() -> None:
    cause, fix = board_error("Failed to create context from binary. Error: 5005 while loading the context") or ("", "")
    assert "another SoC" in cause and "onnpu compile" in fix


def test_any_5005_in_a_verbose_log_is_not_a_context_error() -> None:
    """A verbose ONNX Runtime log holds thousands of numbers (PIDs, nanosecond timestamps, sizes): 5005 among
    them, on a line that mentions a context, must not turn a refused node into a board error."""
    assert board_error("2026-12-03 08:53:12.000005005 [V:onnxruntime:, qnn_model.cc:12] context 7 of pid 5005") is None
    assert board_error("QnnContext_createFromBinary failed with error code 5005") is not None
