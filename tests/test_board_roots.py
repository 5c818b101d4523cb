"""`onnpu doctor` on fake roots of real boards (tests/board_roots.py, each fact cited there): the verdict per board,
the cDSP found by what it is, the permission fix read from the device node, the skeleton's folder and arch — and
every fix, applied to the tree as written, turns the FAIL into a PASS."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from board_roots import BOARDS, FASTRPC_GID, build, wheel
from onnpu import jsonio
from onnpu.cli import main
from onnpu.runtime.board_checks import board_checks, cdsp_check, device_check, skel_check


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("ONNPU_SOC", "ADSP_LIBRARY_PATH", "DSP_LIBRARY_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ONNPU_CONFIG", str(tmp_path / "none.toml"))


def verdicts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str, **broken: object) -> dict[str, bool]:
    board = BOARDS[key]
    monkeypatch.setenv("ONNPU_SYSROOT", str(build(tmp_path / "root", board, **broken)))  # type: ignore[arg-type]
    _, checks = board_checks(wheel(tmp_path / "wheel", board.arch))
    return {c.name: c.passed for c in checks}


@pytest.mark.parametrize(("key", "soc"), [("rb3gen2", "QCS6490"), ("rb3gen2-old-kernel", "QCS6490"),
                                         ("rb3gen2-address-only", "QCS6490"), ("iq9075", "QCS9075"),
                                         ("iq8275", "QCS8300"), ("x-elite", "SC8380XP")])
def test_every_healthy_board_passes_doctor(key: str, soc: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert all(verdicts(tmp_path, monkeypatch, key).values())
    assert main(["doctor", "--no-selftest", "--json"]) == 0  # the wheel's own QNN libraries, the board's tree
    data = jsonio.loads(capsys.readouterr().out)
    assert data["ok"] and data["board_identity"]["soc"]["name"] == soc and data["soc"]["name"] == soc
    assert [c["name"] for c in data["board"] if not c["passed"]] == []


@pytest.mark.parametrize("key", ["rb3gen2", "iq9075", "iq8275", "x-elite"])
def test_every_board_without_the_libcdsprpc_link_fails_doctor_until_the_link_is_added(
        key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = build(tmp_path / "root", BOARDS[key], libcdsprpc="versioned")
    monkeypatch.setenv("ONNPU_SYSROOT", str(root))
    assert main(["doctor", "--no-selftest", "--json"]) == 1
    failed = [c for c in jsonio.loads(capsys.readouterr().out)["board"] if not c["passed"]]
    assert [c["name"] for c in failed] == ["libcdsprpc"]
    target = failed[0]["fix"].split("`")[1].split()[-1]  # sudo ln -s libcdsprpc.so.1 <folder>/libcdsprpc.so
    (root / target.lstrip("/")).symlink_to("libcdsprpc.so.1")
    assert main(["doctor", "--no-selftest"]) == 0


def test_rb5_fails_on_its_htp_v66(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    found = verdicts(tmp_path, monkeypatch, "rb5")
    assert not found["SoC identity"] and all(v for k, v in found.items() if k != "SoC identity")
    assert main(["doctor", "--no-selftest"]) == 1
    out = capsys.readouterr()
    assert "HTP v66" in out.out + out.err and "Traceback" not in out.err


@pytest.mark.parametrize(("name", "firmware", "passes"), [
    ("cdsp", "", True), ("a300000.remoteproc", "cdsp.mdt", True), ("remoteproc-x", "qcom/qcs6490/cdsp.mbn", True),
    ("a300000.remoteproc", "", True), ("3000000.remoteproc", "adsp.mdt", False), ("8300000.remoteproc", "", False)])
def test_the_cdsp_is_found_by_name_firmware_or_the_socs_address(name: str, firmware: str, passes: bool,
                                                                 tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from onnpu.runtime.socs import find_soc

    proc = tmp_path / "sys/class/remoteproc/remoteproc3"
    proc.mkdir(parents=True)
    (proc / "name").write_text(name + "\n")
    (proc / "state").write_text("running\n")
    if firmware:
        (proc / "firmware").write_text(firmware + "\n")
    monkeypatch.setenv("ONNPU_SYSROOT", str(tmp_path))
    check = cdsp_check(find_soc("qcs6490"))  # 8300000 is RB5's cDSP, not QCS6490's
    assert check.passed is passes
    assert ("running" in check.detail) is passes


def test_the_permission_fix_reads_the_nodes_group_and_followed_passes(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONNPU_SYSROOT", str(build(tmp_path / "root", BOARDS["rb3gen2"])))
    user = (1000, (1000,))  # a user outside the node's group
    check = device_check(*user)
    assert not check.passed
    assert "/dev/fastrpc-cdsp (root:fastrpc 0660)" in check.detail and "secure" not in check.detail
    assert check.fix == "sudo usermod -aG fastrpc $USER, then log in again"
    joined = device_check(1000, (1000, FASTRPC_GID))  # the fix: the user joins the node's group
    assert joined.passed and "fastrpc-cdsp-secure is not, and FastRPC falls back from it" in joined.detail


def test_a_root_only_node_gets_a_udev_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = build(tmp_path / "root", BOARDS["rb3gen2"], device_mode=0o600)
    monkeypatch.setenv("ONNPU_SYSROOT", str(root))
    check = device_check(1000, (1000, FASTRPC_GID))
    assert not check.passed and "(root:fastrpc 0600)" in check.detail
    assert 'KERNEL=="fastrpc-cdsp", MODE="0666"' in check.fix
    os.chmod(root / "dev/fastrpc-cdsp", 0o666)  # what the rule does
    assert device_check(1000, (1000,)).passed


def test_a_wrong_arch_skeleton_is_named_with_the_folder_of_the_right_one(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from onnpu.runtime.socs import find_soc

    root = build(tmp_path / "root", BOARDS["rb3gen2"], skel_arch=73)  # a V73 skeleton on a v68 board
    monkeypatch.setenv("ONNPU_SYSROOT", str(root))
    venv = "/home/ubuntu/venv/lib/python3.12/site-packages/onnxruntime_qnn/capi"  # the wheel, on the board
    wheel_dir = wheel(root / venv.lstrip("/"), 68)
    check, _ = skel_check(find_soc("qcs6490"), wheel_dir)
    assert not check.passed
    assert "libQnnHtpV73Skel.so in /usr/lib/dsp/cdsp, for HTP v73" in check.detail
    assert f"needs libQnnHtpV68Skel.so, which is in {venv}" in check.detail
    assert check.fix == f'export ADSP_LIBRARY_PATH="{venv};/usr/lib/dsp" (";" between folders)'
    monkeypatch.setenv("ADSP_LIBRARY_PATH", check.fix.split('"')[1])  # the fix, to the letter
    check, _ = skel_check(find_soc("qcs6490"), wheel_dir)
    assert check.passed and f"(HTP v68) found by the DSP loader in {venv}" in check.detail


def test_doctor_json_names_each_boards_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ONNPU_SYSROOT", str(build(tmp_path / "root", BOARDS["rb3gen2-old-kernel"],
                                                  libatomic=False)))
    assert main(["doctor", "--no-selftest", "--json"]) == 1
    data = jsonio.loads(capsys.readouterr().out)
    failed = [c["name"] for c in data["board"] if not c["passed"]]
    assert "libatomic" in failed and "cDSP" not in failed
