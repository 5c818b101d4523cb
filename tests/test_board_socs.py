"""The SoC table as the boards are: RB8 is a QCS9075 board, the IQ-X5121 has QNN's own soc_model 119, and a board
detected with an HTP this QNN cannot compile for (RB5, v66) is refused exactly as `--soc rb5` is."""

from __future__ import annotations

from pathlib import Path

import pytest

from onnpu import TargetError
from onnpu.runtime.socs import choose_soc, find_soc, qnn_soc_models


@pytest.fixture(autouse=True)
def no_soc_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ONNPU_SOC", raising=False)
    monkeypatch.delenv("ONNPU_SYSROOT", raising=False)
    monkeypatch.setenv("ONNPU_CONFIG", str(tmp_path / "no-config.toml"))


def test_rb8_is_a_qcs9075_and_the_iq_x5121_has_its_own_soc_model() -> None:
    assert find_soc("RB8").name == "QCS9075" and find_soc("RB8").soc_model == 77
    x5121 = find_soc("IQ-X5121")
    assert (x5121.soc_model, x5121.htp_arch) == (119, 73)
    assert qnn_soc_models()[119].name == x5121.name  # named as QNN's contexts name it
    assert find_soc("x-plus").soc_model == 120


def test_a_detected_rb5_is_refused_exactly_like_soc_rb5(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    soc0 = tmp_path / "sys/devices/soc0"
    soc0.mkdir(parents=True)
    (soc0 / "soc_id").write_text("455\n")
    monkeypatch.setenv("ONNPU_SYSROOT", str(tmp_path))
    with pytest.raises(TargetError) as named:
        find_soc("rb5")
    with pytest.raises(TargetError) as detected:
        choose_soc()
    assert str(detected.value) == str(named.value) == "QRB5165 has an HTP v66: this QNN compiles for v68 and newer"
    assert detected.value.hint == named.value.hint


def test_only_the_versioned_libcdsprpc_fails_naming_the_symlink(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    """Ubuntu's qcom-fastrpc1 without the development symlink: the QNN 2.51 stubs load ``libcdsprpc.so`` and fail."""
    from onnpu.runtime.board_checks import libcdsprpc_check

    lib = tmp_path / "usr/lib/aarch64-linux-gnu"
    lib.mkdir(parents=True)
    (lib / "libcdsprpc.so.1").write_bytes(b"ELF")
    monkeypatch.setenv("ONNPU_SYSROOT", str(tmp_path))
    check = libcdsprpc_check()
    assert not check.passed and "only libcdsprpc.so.1" in check.detail
    assert check.fix == "add the symlink: `sudo ln -s libcdsprpc.so.1 /usr/lib/aarch64-linux-gnu/libcdsprpc.so`"
    (lib / "libcdsprpc.so").symlink_to("libcdsprpc.so.1")  # the fix, followed to the letter, passes
    assert libcdsprpc_check().passed


def test_the_skel_fix_uses_dsp_library_path_when_the_system_sets_it_and_passes_when_followed(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from onnpu.runtime.board_checks import skel_check
    from onnpu.runtime.socs import find_soc

    root = tmp_path / "root"
    (root / "usr/lib/dsp").mkdir(parents=True)  # one default folder exists, the others do not
    wheel = root / "opt/venv/onnxruntime_qnn"
    wheel.mkdir(parents=True)
    (wheel / "libQnnHtpV68Skel.so").write_bytes(b"ELF")
    monkeypatch.setenv("ONNPU_SYSROOT", str(root))
    monkeypatch.delenv("ADSP_LIBRARY_PATH", raising=False)
    monkeypatch.setenv("DSP_LIBRARY_PATH", "/usr/lib/dsp")  # set by the system: it takes precedence
    check, _ = skel_check(find_soc("qcs6490"), wheel)
    assert not check.passed
    assert check.fix == 'export DSP_LIBRARY_PATH="/opt/venv/onnxruntime_qnn;/usr/lib/dsp" (";" between folders)'
    value = check.fix.split('"')[1]  # the folder as the board names it
    monkeypatch.setenv("DSP_LIBRARY_PATH", value)
    check, found = skel_check(find_soc("qcs6490"), wheel)
    assert check.passed and found == wheel / "libQnnHtpV68Skel.so"


def test_an_arm_linux_machine_without_a_qualcomm_soc_has_no_htp_and_doctor_fails(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Not "HTP hardware" from the wheel's file list: no socinfo, no NPU, and `doctor --no-selftest` exits 1."""
    import onnpu.tasks.doctor as doctor_module
    from onnpu import jsonio
    from onnpu.cli import main

    monkeypatch.setattr(doctor_module, "htp_is_emulated", lambda: False)  # this host stands in for an Arm one
    monkeypatch.setattr(doctor_module, "on_board", lambda: False)
    monkeypatch.setattr(doctor_module.platform, "system", lambda: "Linux")
    assert main(["doctor", "--no-selftest", "--json"]) == 1
    data = jsonio.loads(capsys.readouterr().out)
    assert data["htp"].startswith("absent: no Qualcomm SoC") and not data["ok"]
    assert "onnpu compile" in data["problems"][0]
