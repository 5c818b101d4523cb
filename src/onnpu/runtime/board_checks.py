"""``doctor`` on a board: what the Hexagon NPU needs from the system, each checked, PASS or FAIL with the exact
fix — the SoC's identity, the HTP skeleton library where the DSP loader looks for it, the FastRPC devices,
the cDSP running, libcdsprpc, libatomic, one QNN release for backend / stub / skeleton, an ARM64 Python on
Windows. When an NPU session fails on a board, ``board_cause`` checks the same prerequisites to name the cause
(QNN's own wording rarely does: a missing libcdsprpc reads "Failed to initialize logging in the backend").

Every look-up goes through ``onnpu.runtime.socs.sysroot()`` (``ONNPU_SYSROOT``), so the checks run against a
fake system tree in the tests and against a mounted board image as well as on the board itself."""

from __future__ import annotations

import os
import platform
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from onnpu.runtime.socs import MIN_HTP_ARCH, BoardIdentity, Soc, identify_board, sysroot

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
    if ident.soc is None and not (sysroot() / "sys/devices/soc0/soc_id").is_file():
        return Check("SoC identity", False, "no Qualcomm SoC here (/sys/devices/soc0/soc_id is missing)",
                     "run on a Qualcomm board; compile on a workstation with `onnpu compile` and copy the folder")
    if ident.soc is None:
        return Check("SoC identity", False, f"/sys/devices/soc0 and the device tree say {seen}: not a SoC onnpu knows",
                     "name it: --soc NAME or ONNPU_SOC=NAME (`onnpu doctor --socs` lists them)")
    if not ident.soc.compilable:
        return Check("SoC identity", False, f"{ident.soc.label} from {', '.join(ident.evidence)} ({seen}): this QNN "
                     f"compiles for HTP v{MIN_HTP_ARCH} and newer", "use an onnxruntime-qnn built with a QNN SDK that "
                     f"still supports v{ident.soc.htp_arch} for this board")
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


_SKEL = re.compile(r"libQnnHtpV(\d+)Skel\.so$")


def _skels_in(folder: Path) -> list[Path]:
    """The HTP skeleton libraries in ``folder`` and its ``cdsp`` subfolder (where the loader also looks)."""
    found: list[Path] = []
    for where in (folder, folder / "cdsp"):
        if where.is_dir():
            found += sorted(p for p in where.iterdir() if _SKEL.match(p.name) and p.is_file())
    return found


def _shown(path: Path) -> str:
    """A path as the board names it (without the system root)."""
    try:
        return "/" + str(path.relative_to(sysroot())) if os.environ.get("ONNPU_SYSROOT") else str(path)
    except ValueError:
        return str(path)


def skel_check(soc: Soc | None, wheel_dir: Path | None) -> tuple[Check, Path | None]:
    """The skeleton the DSP loader finds first, the folder it is in and the HTP arch it is for; a skeleton for
    another arch is named, with the folder that holds the right one."""
    arch = soc.htp_arch if soc else None
    wanted = f"libQnnHtpV{arch}Skel.so" if arch else "libQnnHtpV*Skel.so"
    folders, problems = dsp_search_path()
    on_path = [p for folder in folders for p in _skels_in(_in_root(folder))]
    found = next((p for p in on_path if p.name == wanted), None)
    in_wheel = wheel_dir / wanted if wheel_dir and arch and (wheel_dir / wanted).is_file() else None
    search = ";".join(folders[:4]) + ";…"
    if arch is None:
        archs = ", ".join(f"{p.name} (HTP v{_SKEL.match(p.name).group(1)}) in {_shown(p.parent)}"  # type: ignore[union-attr]
                          for p in on_path[:3])
        return Check("HTP skeleton", False, "the SoC is unknown, so the HTP arch its skeleton must be for is too"
                     + (f"; on the DSP search path: {archs}" if archs else ""),
                     "name the SoC (--soc NAME or ONNPU_SOC=NAME) to check the skeleton"), None
    if found and not problems:
        return Check("HTP skeleton", True, f"{wanted} (HTP v{arch}) found by the DSP loader in "
                     f"{_shown(found.parent)}"), found
    if found:
        return Check("HTP skeleton", False, f"{wanted} found in {_shown(found.parent)}, but: {'; '.join(problems)}",
                     f"separate {'DSP' if os.environ.get('DSP_LIBRARY_PATH') else 'ADSP'}_LIBRARY_PATH folders with "
                     "';' and list only folders that exist"), found
    fix_dir = _shown(in_wheel.parent) if in_wheel else f"<folder with {wanted}>"
    others = [p for p in on_path if p.name != wanted]
    if others:
        other = others[0]
        detail = (f"the DSP search path has {other.name} in {_shown(other.parent)}, for HTP "
                  f"v{_SKEL.match(other.name).group(1)}; this board's {soc.name if soc else 'SoC'} has an HTP v{arch} "  # type: ignore[union-attr]
                  f"and needs {wanted}")
        detail += f", which is in {_shown(in_wheel.parent)}" if in_wheel else ", which is on no folder onnpu knows"
    else:
        detail = f"{wanted} is not in the DSP loader's search path ({search})" + (
            f"; it is in the onnxruntime-qnn wheel ({_shown(in_wheel)}), where the loader does not look"
            if in_wheel else "")
    if problems:
        detail += "; " + "; ".join(problems)
    return Check("HTP skeleton", False, detail, _path_fix(fix_dir)), None


def _path_fix(folder: str) -> str:
    """The export that puts ``folder`` first in the variable the loader reads (DSP_LIBRARY_PATH takes precedence
    when set), followed only by default folders that exist — so the fix, followed to the letter, passes."""
    name = "DSP_LIBRARY_PATH" if os.environ.get("DSP_LIBRARY_PATH") else "ADSP_LIBRARY_PATH"
    rest = [f"/{d}" for d in DSP_DEFAULT_DIRS if (sysroot() / d).is_dir()]
    return f'export {name}="{";".join([folder, *rest])}" (";" between folders)'


def _id_name(number: int, table: str) -> str:
    """A user or group name as the system names it (its /etc/passwd or /etc/group, inside the system root)."""
    try:
        for line in (sysroot() / "etc" / table).read_text().splitlines():
            fields = line.split(":")
            if len(fields) > 2 and fields[2] == str(number):
                return fields[0]
    except OSError:
        pass
    return str(number)


def _usable(st: os.stat_result, uid: int, gids: tuple[int, ...]) -> bool:
    """Can a process of ``uid`` in ``gids`` open a node with this owner, group and mode for reading and writing?"""
    if uid == 0:
        return True
    if st.st_uid == uid:
        return st.st_mode & 0o600 == 0o600
    if st.st_gid in gids:
        return st.st_mode & 0o060 == 0o060
    return st.st_mode & 0o006 == 0o006


def _access_fix(node: Path, st: os.stat_result) -> str:
    """The fix read from the node itself: join its group when the group may read and write it, else a udev rule
    that gives its group that access (then join the group)."""
    group = _id_name(st.st_gid, "group")
    if st.st_gid != 0 and st.st_mode & 0o060 == 0o060:
        return f"sudo usermod -aG {group} $USER, then log in again"
    rule = f'KERNEL=="{node.name}", MODE="0666"'
    return (f"a udev rule opening it to users: echo '{rule}' | sudo tee -a /etc/udev/rules.d/99-onnpu-npu.rules, "
            "then sudo udevadm control --reload && sudo udevadm trigger")


def device_check(uid: int | None = None, gids: tuple[int, ...] | None = None) -> Check:
    """The FastRPC device nodes, judged by their real owner, group and mode for this user (``uid``/``gids``:
    this process's by default). FastRPC tries ``/dev/fastrpc-cdsp-secure`` and falls back to
    ``/dev/fastrpc-cdsp``, so a root-only secure node is not a failure."""
    uid = os.geteuid() if uid is None else uid
    gids = (*os.getgroups(), os.getegid()) if gids is None else gids
    dev = sysroot() / "dev"
    nodes = sorted(dev.glob("fastrpc-cdsp*"))
    heap = dev / "dma_heap/system"
    missing = ([] if nodes else ["/dev/fastrpc-cdsp"]) + ([] if heap.exists() else ["/dev/dma_heap/system"])
    if missing:
        return Check("FastRPC devices", False, f"missing: {', '.join(missing)}",
                     "the cDSP is not up or FastRPC is not installed: see the cDSP check; install fastrpc")
    stats = {n: n.stat() for n in (*nodes, heap)}
    usable_rpc = [n for n in nodes if _usable(stats[n], uid, gids)]
    blocked = ([] if usable_rpc else [n for n in nodes if not n.name.endswith("-secure")] or nodes) + \
        ([] if _usable(stats[heap], uid, gids) else [heap])
    if blocked:
        def described(n: Path) -> str:
            st = stats[n]
            return (f"/{n.relative_to(sysroot())} ({_id_name(st.st_uid, 'passwd')}:{_id_name(st.st_gid, 'group')} "
                    f"{st.st_mode & 0o777:04o})")
        fixes = list(dict.fromkeys(_access_fix(n, stats[n]) for n in blocked))
        return Check("FastRPC devices", False, f"no read/write access for this user to "
                     f"{', '.join(described(n) for n in blocked)}", "; ".join(fixes))
    skipped = [n.name for n in nodes if n not in usable_rpc]
    return Check("FastRPC devices", True, f"{', '.join(n.name for n in usable_rpc)} and dma_heap/system usable"
                 + (f" ({', '.join(skipped)} is not, and FastRPC falls back from it)" if skipped else ""))


# The cDSP's unit address per SoC, for kernels that name a remoteproc after its device-tree node
# (``a300000.remoteproc``) rather than its function: ``remoteproc_cdsp: remoteproc@a300000`` in the kernel's
# arch/arm64/boot/dts/qcom/sc7280.dtsi (QCS6490 / QCS5430 / SM7325), ``cdsp: remoteproc@8300000`` in sm8250.dtsi
# (QRB5165), ``remoteproc_cdsp0: remoteproc@26300000`` in sa8775p.dtsi / lemans.dtsi (QCS9100 / QCS9075 /
# SA8775P), ``remoteproc_cdsp: remoteproc@32300000`` in sm8550.dtsi and x1e80100.dtsi.
CDSP_ADDRESSES: dict[str, tuple[str, ...]] = {
    "QCS6490": ("a300000",), "QCS5430": ("a300000",), "SM7325": ("a300000",), "QRB5165": ("8300000",),
    "QCS9100": ("26300000",), "QCS9075": ("26300000",), "SA8775P": ("26300000",),
    "SM8550": ("32300000",), "QCS8550": ("32300000",), "SC8380XP": ("32300000",),
}


def _cdsp_evidence(name: str, firmware: str, soc: Soc | None) -> str | None:
    """Why a remoteproc is the compute DSP: its name, its firmware (cdsp.mdt, qcom/qcs6490/cdsp.mbn, cdsp0.mbn)
    or the SoC's known cDSP address (kernels before the human-friendly names call it ``a300000.remoteproc``)."""
    if "cdsp" in name.lower():
        return f"named {name}"
    if "cdsp" in firmware.rsplit("/", 1)[-1].lower():
        return f"{name or 'unnamed'}, firmware {firmware}"
    address = name.split(".", 1)[0].lower().removeprefix("0x")
    if soc is not None and address in CDSP_ADDRESSES.get(soc.name, ()):
        return f"{name}: {soc.name}'s cDSP address"
    return None


def cdsp_check(soc: Soc | None = None) -> Check:
    for proc in sorted((sysroot() / "sys/class/remoteproc").glob("remoteproc*")):
        name = (proc / "name").read_text().strip() if (proc / "name").is_file() else ""
        firmware = (proc / "firmware").read_text().strip() if (proc / "firmware").is_file() else ""
        why = _cdsp_evidence(name, firmware, soc)
        if why is None:
            continue
        state = (proc / "state").read_text().strip() if (proc / "state").is_file() else "unknown"
        if state in ("running", "attached"):
            return Check("cDSP", True, f"{proc.name} ({why}) is {state}")
        return Check("cDSP", False, f"{proc.name} ({why}) is {state}",
                     f"start it: echo start | sudo tee /sys/class/remoteproc/{proc.name}/state (only when it reads "
                     "offline), or reboot / update the DSP firmware")
    return Check("cDSP", False, "no cDSP remoteproc in /sys/class/remoteproc (none named cdsp, with a cdsp firmware "
                 "or at the SoC's cDSP address)",
                 "the kernel did not bring up the compute DSP: check the board's firmware and device tree")


def find_library(name: str) -> Path | None:
    """Where ``name`` is found: in the system root's library folders for a fake / mounted root, else by the
    dynamic loader itself (``ctypes.CDLL``: the library loads)."""
    if os.environ.get("ONNPU_SYSROOT"):
        return next((sysroot() / d / name for d in LIB_DIRS if (sysroot() / d / name).exists()), None)
    import ctypes

    try:
        ctypes.CDLL(name)
    except OSError:
        return None
    return Path(name)


def libcdsprpc_check() -> Check:
    """The QNN HTP stubs load the unversioned ``libcdsprpc.so``: a board with only ``libcdsprpc.so.1`` (Ubuntu's
    qcom-fastrpc1 without the development symlink) fails in QNN, so that is a FAIL naming the symlink to add."""
    found = find_library("libcdsprpc.so")
    if found:
        return Check("libcdsprpc", True, f"libcdsprpc.so loads ({_shown(found)})" if found.is_absolute() else
                     "libcdsprpc.so loads")
    versioned = find_library("libcdsprpc.so.1")
    if versioned:
        folder = _shown(versioned.parent) if versioned.is_absolute() else "/usr/lib"
        return Check("libcdsprpc", False, "only libcdsprpc.so.1 is installed; the QNN HTP stubs load the unversioned "
                     "libcdsprpc.so", f"add the symlink: `sudo ln -s libcdsprpc.so.1 {folder}/libcdsprpc.so`")
    return Check("libcdsprpc", False, "libcdsprpc.so (FastRPC's user library) is not installed or not loadable",
                 "install FastRPC: Ubuntu `sudo apt install qcom-fastrpc1` (and the libcdsprpc.so symlink), Yocto "
                 "the fastrpc recipe")


def libatomic_check() -> Check:
    """The QNN HTP backend links libatomic.so.1, which minimal images leave out."""
    found = find_library("libatomic.so.1")
    if found:
        return Check("libatomic", True, "libatomic.so.1 loads" + (f" ({_shown(found)})" if found.is_absolute() else ""))
    return Check("libatomic", False, "libatomic.so.1 (needed by QNN's libQnnHtp.so) is not installed",
                 "install it: Debian/Ubuntu `sudo apt install libatomic1`, Yocto the gcc-runtime (libatomic) package")


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
    checks += [skel, device_check(), cdsp_check(ident.soc), libcdsprpc_check(), libatomic_check(),
               release_check(wheel_dir, found, ident.soc)]
    return ident, checks


def checks_apply() -> bool:
    """Is this a machine (or a system tree, ``ONNPU_SYSROOT``) where the board's prerequisites decide whether the
    NPU runs: Linux on Arm, Qualcomm SoC identified or not."""
    if os.environ.get("ONNPU_SYSROOT"):
        return True
    return platform.system() == "Linux" and platform.machine().lower() in ("aarch64", "arm64")


def prerequisite_failures(wheel_dir: Path | None) -> list[Check]:
    """The board prerequisites of the NPU that fail here, checked (not guessed from QNN's wording): a FastRPC
    device, the unversioned libcdsprpc.so, libatomic.so.1, the HTP skeleton for this SoC's arch and from the
    backend's QNN release (when the SoC is known), the cDSP running (when its device is missing)."""
    ident = identify_board()
    socinfo = (sysroot() / "sys/devices/soc0/soc_id").is_file()
    checks = [device_check(), libcdsprpc_check(), libatomic_check()]
    if ident.soc is not None:
        skel, found = skel_check(ident.soc, wheel_dir)
        checks += [identity_check(ident), skel]
        release = release_check(wheel_dir, found, ident.soc)
        if found is not None and release.detail.startswith("mixed releases"):  # the skeleton the loader finds
            checks.append(release)
    if not checks[0].passed and checks[0].detail.startswith("missing") and socinfo:
        checks.insert(0, cdsp_check(ident.soc))  # the cDSP down is why its device is missing
    if not socinfo:
        checks.insert(0, identity_check(ident))
    return [c for c in checks if not c.passed]


def board_cause(library_dir: str | None) -> tuple[str, str] | None:
    """(cause, fix) of an NPU failure on a board, from its prerequisites (``library_dir``: where the QNN
    libraries are, ``qnn_status().library_dir``); None where they all pass (or this is not a board)."""
    if not checks_apply():
        return None
    failing = prerequisite_failures(Path(library_dir) if library_dir else None)
    if not failing:
        return None
    cause = "; ".join(f"{c.name}: {c.detail}" for c in failing)
    fix = "; ".join(dict.fromkeys(c.fix for c in failing if c.fix)) + " (`onnpu doctor` checks each)"
    return cause, fix
