"""Every NPU failure on a board names its cause by checking the board's prerequisites (fake roots of real boards,
tests/board_roots.py), not by matching QNN's wording: the QNN 2.51 lines a board user meets end in the real cause
and its fix, and the fix, applied to the tree as written, makes doctor's checks pass."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import models
from board_roots import BOARDS, build, wheel
from onnpu.runtime.board_checks import board_cause, board_checks
from onnpu.runtime.failures import explain_failure
from onnpu.runtime.native_log import CapturedLog
from onnpu.runtime.qnn import no_device_error
from onnpu.runtime.targets import get_target

# QNN 2.51's libQnnHtp.so on an aarch64 board without a loadable libcdsprpc.so (the device node is there)
NO_LIBCDSPRPC = ("QNN SetupBackend failed Failed to initialize logging in the backend. Error: "
                 "QNN_BACKEND_ERROR_CANNOT_INITIALIZE: Backend cannot be initialized")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("ONNPU_SOC", "ADSP_LIBRARY_PATH", "DSP_LIBRARY_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ONNPU_CONFIG", str(tmp_path / "none.toml"))


def session_error(root: Path) -> tuple[str, str]:
    log = CapturedLog(f"[E:qnn] {NO_LIBCDSPRPC}", [f"[E:qnn] {NO_LIBCDSPRPC}"])
    error = explain_failure(NO_LIBCDSPRPC, log, get_target("npu"), models.qdq_conv(), "m.onnx")
    assert error is not None
    return str(error), error.hint or ""


def passes_after(root: Path, fix: str) -> bool:
    """Apply a shell fix of the kinds doctor gives to the fake root, then run every board check again."""
    link = re.search(r"sudo ln -s (\S+) (\S+)`", fix)
    if link:
        (root / link.group(2).lstrip("/")).symlink_to(link.group(1))
    if "libatomic1" in fix:
        (root / "usr/lib/aarch64-linux-gnu/libatomic.so.1").write_bytes(b"\x7fELF")  # what apt installs
    _, checks = board_checks(wheel(root / "opt/wheel", 68))
    return all(c.passed for c in checks)


def test_qnn_251s_libcdsprpc_failure_names_the_symlink_and_the_fix_passes(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    root = build(tmp_path / "root", BOARDS["rb3gen2"], libcdsprpc="versioned")
    monkeypatch.setenv("ONNPU_SYSROOT", str(root))
    message, hint = session_error(root)
    assert "the NPU session failed on QCS6490 HTP v68" in message and "only libcdsprpc.so.1" in message
    assert "check backend_path" not in hint
    assert "sudo ln -s libcdsprpc.so.1 /usr/lib/aarch64-linux-gnu/libcdsprpc.so" in hint
    assert passes_after(root, hint)
    assert board_cause(None) is None  # nothing left to blame: QNN's own wording is translated as before


def test_no_libcdsprpc_at_all_names_fastrpc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONNPU_SYSROOT", str(build(tmp_path / "root", BOARDS["rb3gen2"], libcdsprpc="none")))
    message, hint = session_error(tmp_path / "root")
    assert "libcdsprpc.so (FastRPC's user library) is not installed" in message and "qcom-fastrpc1" in hint


def test_missing_libatomic_is_named_and_the_fix_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = build(tmp_path / "root", BOARDS["rb3gen2"], libatomic=False)
    monkeypatch.setenv("ONNPU_SYSROOT", str(root))
    message, hint = session_error(root)
    assert "libatomic.so.1" in message and "sudo apt install libatomic1" in hint
    assert passes_after(root, hint)


def test_a_wrong_arch_skeleton_is_the_named_cause(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONNPU_SYSROOT", str(build(tmp_path / "root", BOARDS["rb3gen2"], skel_arch=73)))
    message, hint = session_error(tmp_path / "root")
    assert "libQnnHtpV73Skel.so" in message and "for HTP v73" in message and "ADSP_LIBRARY_PATH" in hint


def test_no_fastrpc_device_explains_the_plugin_without_a_device(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONNPU_SYSROOT", str(build(tmp_path / "root", BOARDS["iq9075"], devices=False)))
    error = no_device_error()
    assert "offers no NPU device" in str(error) and "missing: /dev/fastrpc-cdsp" in str(error)
    assert "install fastrpc" in (error.hint or "")


def test_an_arm_userland_without_a_qualcomm_soc_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Debian arm64 on a machine without socinfo or FastRPC: the plugin offers no device, and that is why."""
    (tmp_path / "root/usr/lib/aarch64-linux-gnu").mkdir(parents=True)
    monkeypatch.setenv("ONNPU_SYSROOT", str(tmp_path / "root"))
    error = no_device_error()
    assert "no Qualcomm SoC here (/sys/devices/soc0/soc_id is missing)" in str(error)
    assert "missing: /dev/fastrpc-cdsp" in str(error) and "onnpu compile" in (error.hint or "")


def test_a_cdsp_that_is_down_is_named_before_its_missing_device(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    root = build(tmp_path / "root", BOARDS["rb3gen2-old-kernel"], devices=False)
    (root / "sys/class/remoteproc/remoteproc1/state").write_text("offline\n")
    monkeypatch.setenv("ONNPU_SYSROOT", str(root))
    cause = board_cause(None)
    assert cause is not None and cause[0].startswith("cDSP: remoteproc1 (a300000.remoteproc, firmware cdsp.mdt) is "
                                                     "offline")
    assert "echo start | sudo tee /sys/class/remoteproc/remoteproc1/state" in cause[1]


def test_a_real_qnn_backend_that_fails_to_load_on_a_board_names_the_board_cause(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real QNN EP session whose backend cannot load, on a board tree with only libcdsprpc.so.1: not "check
    backend_path", but the symlink to add."""
    from onnpu import TargetError
    from onnpu.model.files import write_model
    from onnpu.runtime.session import create_session

    monkeypatch.setenv("ONNPU_SYSROOT", str(build(tmp_path / "root", BOARDS["rb3gen2"], libcdsprpc="versioned")))
    write_model(models.qdq_conv(), tmp_path / "m.onnx")
    target = get_target("npu", {"backend_path": str(tmp_path / "missing/libQnnHtp.so")}).with_fallback(False)
    with pytest.raises(TargetError) as failed:
        create_session(tmp_path / "m.onnx", target)
    assert "backend failed to load" in str(failed.value) and "only libcdsprpc.so.1" in str(failed.value)
    assert "sudo ln -s libcdsprpc.so.1 /usr/lib/aarch64-linux-gnu/libcdsprpc.so" in (failed.value.hint or "")


def test_classify_without_torch_says_how_to_bring_the_default_model_to_the_board(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A board without torch (427 MB for aarch64 just to build the default model): the hint builds it on a
    workstation, compiles it for this board's SoC, and runs the copied folder."""
    import sys

    import numpy as np
    from PIL import Image

    from onnpu.cli import main

    monkeypatch.setenv("ONNPU_SYSROOT", str(build(tmp_path / "root", BOARDS["rb3gen2"])))
    monkeypatch.setenv("ONNPU_CACHE_DIR", str(tmp_path / "cache"))  # no default model built yet
    monkeypatch.setitem(sys.modules, "torch", None)  # this install has no torch
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "cat.png")
    assert main(["classify", str(tmp_path / "cat.png")]) == 1
    err = capsys.readouterr().err
    assert "builds the default model here, and building the default model needs torch" in err
    assert ('on a workstation: `onnpu zoo build`, then `onnpu compile "$(onnpu zoo path | tail -1)" --soc qcs6490 -o '
            'efficientnet/`; copy the efficientnet/ folder to this board and run `onnpu classify IMAGE --model '
            'efficientnet/ --target npu`') in err.replace("\n", " ")
    assert "Traceback" not in err


def test_a_skeleton_from_another_qnn_release_is_the_named_cause(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    root = build(tmp_path / "root", BOARDS["rb3gen2"])
    (root / "usr/lib/dsp/cdsp/libQnnHtpV68Skel.so").write_bytes(b"\x7fELF\x00v2.29.0.241129103708\x00")
    monkeypatch.setenv("ONNPU_SYSROOT", str(root))
    cause = board_cause(str(wheel(tmp_path / "wheel", 68)))
    assert cause is not None and "mixed releases" in cause[0] and "2.29.0" in cause[0] and "2.51.0" in cause[0]
