"""``doctor`` on a board: what the Hexagon NPU needs from the system, each checked, PASS or FAIL with the exact
fix — the SoC's identity, the HTP skeleton library where the DSP loader looks for it, the FastRPC devices,
the cDSP running, libcdsprpc, one QNN release for backend / stub / skeleton, an ARM64 Python on Windows.

Every look-up goes through ``onnpu.runtime.socs.sysroot()`` (``ONNPU_SYSROOT``), so the checks run against a
fake system tree in the tests and against a mounted board image as well as on the board itself."""

from __future__ import annotations

import os
import platform
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from onnpu.runtime.socs import BoardIdentity, Soc, identify_board, sysroot

# Where the FastRPC loader looks after ADSP_LIBRARY_PATH / DSP_LIBRARY_PATH (qualcomm/fastrpc src/Makefile.am)
DSP_DEFAULT_DIRS = ("usr/lib/rfsa/adsp", "usr/lib/dsp", "vendor/lib/rfsa/adsp", "vendor/dsp", "dsp")
LIB_DIRS = ("usr/lib", "usr/lib64", "usr/lib/aarch64-linux-gnu", "lib", "lib64", "vendor/lib64", "usr/local/lib")
_QNN_VERSION = re.compile(rb"v(\d+\.\d+\.\d+\.\d{6,})")


@dataclass
class Check:
    name: str
    passed: bool
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _in_root(path: str) -> Path:
    """A path as the board sees it, inside the system root."""
    return sysroot() / path.lstrip("/")


def identity_check(ident: BoardIdentity) -> Check:
    seen = ", ".join(f"{k}={v!r}" for k, v in (("soc_id", ident.soc_id), ("machine", ident.machine),
                                               ("model", ident.model)) if v is not None) or "nothing"
    if ident.soc is None:
        return Check("SoC identity", False, f"/sys/devices/soc0 and the device tree say {seen}: not a SoC onnpu knows",
                     "name it: --soc NAME or ONNPU_SOC=NAME (`onnpu doctor --socs` lists them)")
    return Check("SoC identity", True, f"{ident.soc.label} from {', '.join(ident.evidence)} ({seen})")


def dsp_search_path(env: dict[str, str] | None = None) -> tuple[list[str], list[str]]:
    """The folders the FastRPC loader searches, in order, and problems with how they were given."""
    env = dict(os.environ if env is None else env)
    problems: list[str] = []
    name = "DSP_LIBRARY_PATH" if env.get("DSP_LIBRARY_PATH") else "ADSP_LIBRARY_PATH"
    value = env.get(name, "")
    if env.get("DSP_LIBRARY_PATH") and env.get("ADSP_LIBRARY_PATH"):
        problems.append("DSP_LIBRARY_PATH is set, so ADSP_LIBRARY_PATH is ignored")
    given = [p for p in value.split(";") if p]
    for folder in given:
        if ":" in folder and not _in_root(folder).is_dir():
            problems.append(f"{name} is split on ';', not ':' — {folder!r} is read as one folder")
        elif not _in_root(folder).is_dir():
            problems.append(f"{name} names a missing folder {folder!r}")
    return given + [f"/{d}" for d in DSP_DEFAULT_DIRS], problems


def skel_check(soc: Soc | None, wheel_dir: Path | None) -> tuple[Check, Path | None]:
    arch = soc.htp_arch if soc else None
    wanted = f"libQnnHtpV{arch}Skel.so" if arch else "libQnnHtpV*Skel.so"
    folders, problems = dsp_search_path()
    found: Path | None = None
    for folder in folders:
        for candidate in (_in_root(folder) / wanted, _in_root(folder) / "cdsp" / wanted):
            if arch and candidate.is_file():
                found = candidate
                break
        if found:
            break
    in_wheel = wheel_dir / wanted if wheel_dir and arch and (wheel_dir / wanted).is_file() else None
    search = ";".join(folders[:4]) + ";…"
    if found and not problems:
        return Check("HTP skeleton", True, f"{wanted} found by the DSP loader at {found}"), found
    if found:
        return Check("HTP skeleton", False, f"{wanted} found at {found}, but: {'; '.join(problems)}",
                     f"separate {'DSP' if os.environ.get('DSP_LIBRARY_PATH') else 'ADSP'}_LIBRARY_PATH folders with "
                     "';' and list only folders that exist"), found
    fix_dir = str(in_wheel.parent) if in_wheel else f"<folder with {wanted}>"
    detail = f"{wanted} is not in the DSP loader's search path ({search})" + (
        f"; it is in the onnxruntime-qnn wheel ({in_wheel}), where the loader does not look" if in_wheel else "")
    if problems:
        detail += "; " + "; ".join(problems)
    return Check("HTP skeleton", False, detail, _path_fix(fix_dir)), None


def _path_fix(folder: str) -> str:
    """The export that puts ``folder`` first in the variable the loader reads (DSP_LIBRARY_PATH takes precedence
    when set), followed only by default folders that exist — so the fix, followed to the letter, passes."""
    name = "DSP_LIBRARY_PATH" if os.environ.get("DSP_LIBRARY_PATH") else "ADSP_LIBRARY_PATH"
    rest = [f"/{d}" for d in DSP_DEFAULT_DIRS if (sysroot() / d).is_dir()]
    return f'export {name}="{";".join([folder, *rest])}" (";" between folders)'


def device_check() -> Check:
    devices = sorted((sysroot() / "dev").glob("fastrpc-cdsp*"))
    heap = sysroot() / "dev/dma_heap/system"
    missing = ([] if devices else ["/dev/fastrpc-cdsp"]) + ([] if heap.exists() else ["/dev/dma_heap/system"])
    if missing:
        return Check("FastRPC devices", False, f"missing: {', '.join(missing)}",
                     "the cDSP is not up or FastRPC is not installed: see the cDSP check; install fastrpc")
    denied = [str(d) for d in (*devices, heap) if not os.access(d, os.R_OK | os.W_OK)]
    if denied:
        return Check("FastRPC devices", False, f"no read/write access for this user to {', '.join(denied)}",
                     "add the user to the groups that own them (fastrpc ≥ 1.0.6 udev rules: group 'fastrpc'; "
                     "dma_heap: group 'dmaheap'): sudo usermod -aG fastrpc,dmaheap $USER, then log in again")
    return Check("FastRPC devices", True, f"{', '.join(d.name for d in devices)} and dma_heap/system usable")


def cdsp_check() -> Check:
    for proc in sorted((sysroot() / "sys/class/remoteproc").glob("remoteproc*")):
        name = (proc / "name").read_text().strip() if (proc / "name").is_file() else ""
        if "cdsp" not in name:
            continue
        state = (proc / "state").read_text().strip() if (proc / "state").is_file() else "unknown"
        if state in ("running", "attached"):
            return Check("cDSP", True, f"{proc.name} ({name}) is {state}")
        return Check("cDSP", False, f"{proc.name} ({name}) is {state}",
                     f"start it: echo start | sudo tee /sys/class/remoteproc/{proc.name}/state (only when it reads "
                     "offline), or reboot / update the DSP firmware")
    return Check("cDSP", False, "no cDSP remoteproc in /sys/class/remoteproc",
                 "the kernel did not bring up the compute DSP: check the board's firmware and device tree")


def libcdsprpc_check() -> Check:
    """The QNN HTP stubs load the unversioned ``libcdsprpc.so``: a board with only ``libcdsprpc.so.1`` (Ubuntu's
    qcom-fastrpc1 without the development symlink) fails in QNN, so that is a FAIL naming the symlink to add."""
    if os.environ.get("ONNPU_SYSROOT"):
        def present(name: str) -> Path | None:
            return next((sysroot() / d / name for d in LIB_DIRS if (sysroot() / d / name).exists()), None)
    else:
        import ctypes

        def present(name: str) -> Path | None:
            try:
                ctypes.CDLL(name)
            except OSError:
                return None
            return Path(name)
    found = present("libcdsprpc.so")
    if found:
        return Check("libcdsprpc", True, f"libcdsprpc.so loads ({found})" if found.is_absolute() else
                     "libcdsprpc.so loads")
    versioned = present("libcdsprpc.so.1")
    if versioned:
        folder = versioned.parent if versioned.is_absolute() else Path("/usr/lib")
        if os.environ.get("ONNPU_SYSROOT"):
            folder = Path("/") / folder.relative_to(sysroot())
        return Check("libcdsprpc", False, "only libcdsprpc.so.1 is installed; the QNN HTP stubs load the unversioned "
                     "libcdsprpc.so", f"add the symlink: `sudo ln -s libcdsprpc.so.1 {folder}/libcdsprpc.so`")
    return Check("libcdsprpc", False, "libcdsprpc.so (FastRPC's user library) is not installed or not loadable",
                 "install FastRPC: Ubuntu `sudo apt install qcom-fastrpc1` (and the libcdsprpc.so symlink), Yocto "
                 "the fastrpc recipe")


def _qnn_version(path: Path) -> str | None:
    try:
        found = _QNN_VERSION.search(path.read_bytes())
    except OSError:
        return None
    return found.group(1).decode() if found else None


def release_check(wheel_dir: Path | None, skel: Path | None, soc: Soc | None) -> Check:
    parts: dict[str, str | None] = {}
    if wheel_dir is not None:
        parts["libQnnHtp.so"] = _qnn_version(wheel_dir / "libQnnHtp.so")
        if soc is not None and (wheel_dir / f"libQnnHtpV{soc.htp_arch}Stub.so").is_file():
            parts["stub"] = _qnn_version(wheel_dir / f"libQnnHtpV{soc.htp_arch}Stub.so")
    if skel is not None:
        parts["skel"] = _qnn_version(skel)
    known = {k: v for k, v in parts.items() if v}
    if len(set(known.values())) > 1:
        listed = ", ".join(f"{k} {v}" for k, v in known.items())
        return Check("one QNN release", False, f"mixed releases: {listed}",
                     "use the skeleton of the same QNN release as libQnnHtp.so: put its folder first in "
                     "ADSP_LIBRARY_PATH (a system copy from another release is picked up otherwise)")
    if not known:
        return Check("one QNN release", False, "no QNN version found in the backend, stub or skeleton",
                     "reinstall onnxruntime-qnn")
    return Check("one QNN release", True, f"{', '.join(known)}: QNN {next(iter(known.values()))}")


def windows_python_check(machine: str | None = None, identifier: str | None = None) -> Check:
    """On Windows on Snapdragon, QNN's HTP libraries are ARM64: an x64 Python (emulated) cannot load them."""
    machine = (machine or platform.machine()).upper()
    identifier = identifier if identifier is not None else os.environ.get("PROCESSOR_IDENTIFIER", "")
    arm_host = "ARM" in identifier.upper() or "SNAPDRAGON" in identifier.upper()
    if arm_host and machine != "ARM64":
        return Check("ARM64 Python", False, f"this Python is {machine} on an ARM64 Windows ({identifier.strip()})",
                     "install the ARM64 build of Python (python.org: 'Windows installer (ARM64)') and onnpu in it")
    return Check("ARM64 Python", True, f"Python for {machine}")


def board_checks(wheel_dir: Path | None) -> tuple[BoardIdentity, list[Check]]:
    ident = identify_board()
    if platform.system() == "Windows" and not os.environ.get("ONNPU_SYSROOT"):
        return ident, [windows_python_check()]
    checks = [identity_check(ident)]
    skel, found = skel_check(ident.soc, wheel_dir)
    checks += [skel, device_check(), cdsp_check(), libcdsprpc_check(), release_check(wheel_dir, found, ident.soc)]
    return ident, checks
