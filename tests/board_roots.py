"""Fake system roots of real boards, for `onnpu doctor` (ONNPU_SYSROOT points every sysfs, /dev and library look-up
at them). Each fact is taken from public documentation, cited next to it:

- soc_id: the kernel's include/dt-bindings/arm/qcom,ids.h (QCS6490 498, QRB5165 455, QCS9075 676, QCS8275 675,
  X1E80100 555); /sys/devices/soc0/machine is socinfo.c's name for that id (drivers/soc/qcom/socinfo.c).
- device-tree model: the board's .dts in arch/arm64/boot/dts/qcom/ (qcs6490-rb3gen2.dts "Qualcomm Technologies,
  Inc. Robotics RB3gen2", qrb5165-rb5.dts "Qualcomm Technologies, Inc. Robotics RB5", qcs9075-iq-9075-evk.dts
  "Qualcomm Technologies, Inc. IQ 9075 EVK", qcs8275-iq-8275-evk.dts "Qualcomm Technologies, Inc. IQ 8275 EVK",
  x1e80100-crd.dts "Qualcomm Technologies, Inc. X1E80100 CRD").
- remoteproc firmware: the board's .dts ``firmware-name`` (qcs6490-rb3gen2.dts qcom/qcs6490/cdsp.mbn,
  qrb5165-rb5.dts qcom/sm8250/cdsp.mbn, sa8775p/qcs9075 boards qcom/sa8775p/cdsp0.mbn and cdsp1.mbn,
  qcs8275-iq-8275-evk.dts qcom/qcs8300/cdsp0.mbn, x1e80100-crd.dts qcom/x1e80100/cdsp.mbn); the remoteproc name is the
  driver's sysmon name (drivers/remoteproc/qcom_q6v5_pas.c: "adsp", "cdsp", "cdsp0", ...) — older kernels name it
  after the device-tree node, ``a300000.remoteproc`` (sc7280.dtsi ``remoteproc_cdsp: remoteproc@a300000``) and
  load the split firmware ``cdsp.mdt``.
- FastRPC: /dev/fastrpc-{adsp,cdsp}[-secure] from drivers/misc/fastrpc.c; the user library and its DSP search path
  (/usr/lib/dsp/cdsp, /usr/lib/rfsa/adsp, ...) from github.com/qualcomm/fastrpc (src/Makefile.am); Ubuntu's
  qcom-fastrpc1 installs libcdsprpc.so.1 in /usr/lib/aarch64-linux-gnu, the unversioned link comes with the
  development package. Node permissions: distributions' udev rules such as
  ``SUBSYSTEM=="misc", KERNEL=="fastrpc-*", GROUP="fastrpc", MODE="0660"`` (mobile-nixos); the secure node is left
  root-only here — the case of a board whose rules do not cover it (FastRPC then falls back to fastrpc-cdsp).
- HTP arch: QNN's contexts (onnpu/data/qnn_soc_models.json): QCS6490 v68, QRB5165 v66, QCS9075 v73, QCS8275 v75,
  X1E80100 v73.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

QNN_VERSION = b"\x00hexnn_ver_v2.51.0.260929181845\x00"
FASTRPC_GID = 977  # the group fastrpc's udev rules create (any id: the check reads it from /etc/group)


@dataclass(frozen=True)
class Board:
    name: str
    soc_id: int
    machine: str
    model: str
    arch: int
    remoteprocs: tuple[tuple[str, str], ...]  # (name, firmware) per /sys/class/remoteproc/remoteprocN
    extra: dict[str, str] = field(default_factory=dict)


BOARDS = {
    "rb3gen2": Board("RB3 Gen 2", 498, "QCS6490", "Qualcomm Technologies, Inc. Robotics RB3gen2", 68,
                     (("adsp", "qcom/qcs6490/adsp.mbn"), ("cdsp", "qcom/qcs6490/cdsp.mbn"),
                      ("wpss", "qcom/qcs6490/wpss.mbn"))),
    # an older kernel: remoteprocs named after their device-tree node, split firmware (sc7280.dtsi addresses)
    "rb3gen2-old-kernel": Board("RB3 Gen 2, older kernel", 498, "QCS6490",
                                "Qualcomm Technologies, Inc. Robotics RB3gen2", 68,
                                (("3000000.remoteproc", "adsp.mdt"), ("a300000.remoteproc", "cdsp.mdt"),
                                 ("8a00000.remoteproc", "wpss.mdt"))),
    # the same, with no firmware attribute to read: only the cDSP's address says which one it is
    "rb3gen2-address-only": Board("RB3 Gen 2, address only", 498, "QCS6490",
                                  "Qualcomm Technologies, Inc. Robotics RB3gen2", 68,
                                  (("3000000.remoteproc", ""), ("a300000.remoteproc", ""))),
    "rb5": Board("RB5", 455, "QRB5165", "Qualcomm Technologies, Inc. Robotics RB5", 66,
                 (("adsp", "qcom/sm8250/adsp.mbn"), ("cdsp", "qcom/sm8250/cdsp.mbn"),
                  ("slpi", "qcom/sm8250/slpi.mbn"))),
    "iq9075": Board("IQ-9075 EVK / RB8", 676, "QCS9075", "Qualcomm Technologies, Inc. IQ 9075 EVK", 73,
                    (("adsp", "qcom/sa8775p/adsp.mbn"), ("cdsp0", "qcom/sa8775p/cdsp0.mbn"),
                     ("cdsp1", "qcom/sa8775p/cdsp1.mbn"), ("gpdsp0", "qcom/sa8775p/gpdsp0.mbn"))),
    "iq8275": Board("IQ-8275 EVK", 675, "QCS8275", "Qualcomm Technologies, Inc. IQ 8275 EVK", 75,
                    (("adsp", "qcom/qcs8300/adsp.mbn"), ("cdsp", "qcom/qcs8300/cdsp0.mbn"),
                     ("gpdsp", "qcom/qcs8300/gpdsp0.mbn"))),
    "x-elite": Board("Snapdragon X Elite (Linux)", 555, "X1E80100", "Qualcomm Technologies, Inc. X1E80100 CRD", 73,
                     (("adsp", "qcom/x1e80100/adsp.mbn"), ("cdsp", "qcom/x1e80100/cdsp.mbn"))),
}


def build(root: Path, board: Board, *, skel_arch: int | None = None, libcdsprpc: str = "both",
          devices: bool = True, device_mode: int = 0o660, libatomic: bool = True,
          skel_dir: str = "usr/lib/dsp/cdsp") -> Path:
    """``board``'s system tree under ``root``: healthy by default; each keyword breaks one thing.
    libcdsprpc: "both" (the library and its unversioned link), "versioned" (only .so.1), "none"."""
    soc0 = root / "sys/devices/soc0"
    soc0.mkdir(parents=True)
    (soc0 / "soc_id").write_text(f"{board.soc_id}\n")
    (soc0 / "machine").write_text(f"{board.machine}\n")
    (soc0 / "family").write_text("Snapdragon\n")
    dt = root / "sys/firmware/devicetree/base"
    dt.mkdir(parents=True)
    (dt / "model").write_bytes(board.model.encode() + b"\x00")
    for i, (name, firmware) in enumerate(board.remoteprocs):
        proc = root / f"sys/class/remoteproc/remoteproc{i}"
        proc.mkdir(parents=True)
        (proc / "name").write_text(f"{name}\n")
        if firmware:
            (proc / "firmware").write_text(f"{firmware}\n")
        (proc / "state").write_text("running\n")
    etc = root / "etc"
    etc.mkdir()
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\nubuntu:x:1000:1000::/home/ubuntu:/bin/bash\n")
    (etc / "group").write_text(f"root:x:0:\nubuntu:x:1000:\nfastrpc:x:{FASTRPC_GID}:ubuntu\n")
    if skel_dir:
        (root / skel_dir).mkdir(parents=True)
        (root / skel_dir / f"libQnnHtpV{skel_arch or board.arch}Skel.so").write_bytes(b"\x7fELF" + QNN_VERSION)
    if devices:
        (root / "dev/dma_heap").mkdir(parents=True)
        for node, mode, gid in (("fastrpc-cdsp", device_mode, FASTRPC_GID), ("fastrpc-cdsp-secure", 0o600, 0),
                                ("fastrpc-adsp", device_mode, FASTRPC_GID), ("dma_heap/system", 0o666, 0)):
            (root / "dev" / node).write_bytes(b"")
            os.chown(root / "dev" / node, 0, gid)
            os.chmod(root / "dev" / node, mode)
    lib = root / "usr/lib/aarch64-linux-gnu"
    lib.mkdir(parents=True)
    if libcdsprpc in ("both", "versioned"):
        (lib / "libcdsprpc.so.1").write_bytes(b"\x7fELF")
    if libcdsprpc == "both":
        (lib / "libcdsprpc.so").symlink_to("libcdsprpc.so.1")
    if libatomic:
        (lib / "libatomic.so.1").write_bytes(b"\x7fELF")
    return root


def wheel(folder: Path, arch: int) -> Path:
    """The onnxruntime-qnn wheel's QNN libraries for ``arch`` (backend, stub, skeleton of one release)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("libQnnHtp.so", f"libQnnHtpV{arch}Stub.so", f"libQnnHtpV{arch}Skel.so"):
        (folder / name).write_bytes(b"\x7fELF" + QNN_VERSION)
    return folder
