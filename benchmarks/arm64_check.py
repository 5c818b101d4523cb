"""`make arm64-check`: onnpu installed for real in an arm64 Debian userland run under qemu user-mode emulation, and
the messages a board user meets first, checked: doctor without a Qualcomm SoC, a CPU model, and the NPU attempt
without the FastRPC device, without libcdsprpc.so, without libatomic.so.1.

The root lives under onnpu's cache (``<cache>/arm64/trixie-root``) and is reused; a cold build (Debian's
``debootstrap``, second stage under qemu: ~35 min) happens only when it is missing. Everything runs in a new
user + mount + PID namespace (``unshare``): binfmt_misc is mounted and qemu registered there, so the host's is
never touched; ``container=lxc`` lets debootstrap's second stage skip the device nodes it may not create; an Arm
``/proc/cpuinfo`` is bound over the emulated machine's (onnxruntime reads it at start and crashes on an x86 one);
the host's pip configuration and CA bundle are copied in for the cold build's installs. No DSP exists under
emulation: ``/dev/null`` stands in for the FastRPC node, and, in the libatomic state, a loadable arm64 library
for libcdsprpc.so — so that the one thing missing is the one the check is about.

Writes ``<cache>/arm64/out/results.jsonl`` and ``benchmarks/results/arm64.md`` (assembled into BENCHMARKS.md by
``benchmarks/run.py``); exits 1 when a check fails."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))

from onnpu.paths import cache_dir  # noqa: E402

BASE = cache_dir() / "arm64"
ROOT = BASE / "trixie-root"
WORK = "/var/tmp/onnpu-arm64"  # inside the root
LIBDIR = "/usr/lib/aarch64-linux-gnu"
QEMU = shutil.which("qemu-aarch64-static") or "/usr/bin/qemu-aarch64-static"
MIRROR = os.environ.get("ONNPU_DEBIAN_MIRROR", "http://deb.debian.org/debian")
MAGIC = (r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00",
         r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff")
ARM_CPUINFO = """processor\t: 0
BogoMIPS\t: 38.40
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
CPU implementer\t: 0x51
CPU architecture: 8
CPU variant\t: 0xd
CPU part\t: 0x805
CPU revision\t: 14
"""


def namespace(script: str, timeout: int = 3600) -> subprocess.CompletedProcess[str]:
    """Run ``script`` (bash) as root of a new user + mount + PID namespace with qemu registered for arm64 ELF files
    in a binfmt_misc of its own, and the root's /proc, /dev and /tmp set up."""
    setup = f"""set -e
mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
printf '%s' ':qemu-aarch64:M::{MAGIC[0]}:{MAGIC[1]}:{QEMU}:F' > /proc/sys/fs/binfmt_misc/register
R={shlex.quote(str(ROOT))}
mkdir -p "$R/proc" "$R/dev" "$R/tmp" "$R/sys"
mount -t proc proc "$R/proc"
printf '%s' {shlex.quote(ARM_CPUINFO)} > {shlex.quote(str(BASE / "cpuinfo"))}
mount --bind {shlex.quote(str(BASE / "cpuinfo"))} "$R/proc/cpuinfo"
for d in null zero urandom random; do [ -e "$R/dev/$d" ] || touch "$R/dev/$d"; mount --bind "/dev/$d" "$R/dev/$d"; done
mount -t tmpfs tmpfs "$R/tmp"
set +e
"""
    return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork", "--mount-proc",
                           "bash", "-c", setup + script], capture_output=True, text=True, timeout=timeout)


def build_root() -> None:
    """The cold path: debootstrap's first stage on the host, the second under qemu, then a venv at /opt/onnpu."""
    ROOT.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["debootstrap", "--arch=arm64", "--foreign", "--variant=minbase",
                    "--include=python3,python3-venv,python3-pip,ca-certificates,libatomic1", "trixie", str(ROOT),
                    MIRROR], check=True)
    done = namespace('container=lxc chroot "$R" /debootstrap/debootstrap --second-stage', timeout=4 * 3600)
    if done.returncode != 0:
        raise SystemExit(f"debootstrap's second stage failed: {done.stderr[-2000:]}")
    done = namespace('chroot "$R" /usr/bin/python3 -m venv /opt/onnpu')
    if done.returncode != 0:
        raise SystemExit(f"the venv could not be made: {done.stderr[-2000:]}")


def install(wheel: Path) -> str:
    """The checkout's wheel into /opt/onnpu with ``[qnn]`` (what a board user runs); returns the versions."""
    (ROOT / "dist").mkdir(exist_ok=True)
    for old in (ROOT / "dist").glob("*.whl"):
        old.unlink()
    shutil.copy(wheel, ROOT / "dist" / wheel.name)
    etc = ROOT / "etc"
    if Path("/etc/pip.conf").is_file():
        shutil.copy("/etc/pip.conf", etc / "pip.conf")
    ca = Path(os.environ.get("PIP_CERT", "/etc/ssl/certs/ca-certificates.crt"))
    if ca.is_file():
        (ROOT / "host-ca").mkdir(exist_ok=True)
        shutil.copy(ca, ROOT / "host-ca" / "ca.crt")
    pip = "/opt/onnpu/bin/python -m pip --cert /host-ca/ca.crt --disable-pip-version-check -q"
    done = namespace(f'chroot "$R" {pip} install --force-reinstall --no-deps /dist/{wheel.name} && '
                     f'chroot "$R" {pip} install "/dist/{wheel.name}[qnn]" && '
                     'chroot "$R" /opt/onnpu/bin/python -c "import onnxruntime as o, importlib.metadata as m, '
                     "platform; print(platform.python_version(), o.__version__, m.version('onnxruntime-qnn'), "
                     "m.version('onnx'), m.version('numpy'))\"")
    if done.returncode != 0:
        raise SystemExit(f"installing {wheel.name} in the arm64 root failed: {(done.stderr or done.stdout)[-2000:]}")
    python, ort, qnn, onnx_v, numpy_v = done.stdout.split()[-5:]
    return (f"Python {python}; `pip install 'onnpu[qnn]'` from the wheel of this checkout put onnxruntime {ort}, "
            f"onnxruntime-qnn {qnn}, onnx {onnx_v}, numpy {numpy_v}")


def models() -> None:
    """A float conv and its QDQ copy, written into the root."""
    import models as test_models
    from onnpu.quantization.calibration import model_inputs
    from onnpu.quantization.config import QuantizeConfig
    from onnpu.quantization.recipe import quantize_qdq_model

    folder = ROOT / WORK.lstrip("/")
    folder.mkdir(parents=True, exist_ok=True)
    float_model = test_models.float_conv()
    test_models.save(float_model, folder / "conv.onnx")
    data = model_inputs("random", float_model, 8)
    test_models.save(quantize_qdq_model(float_model, data.calibration, QuantizeConfig(rounding="nearest")),
                     folder / "conv.qdq.onnx")


@dataclass
class Check:
    name: str
    state: str  # "base", "device", "device-no-libatomic"
    argv: str
    wanted_exit: str  # "zero" or "nonzero"
    wanted: tuple[str, ...]  # what the message must say


CHECKS = [
    Check("doctor --no-selftest (no soc_id, no FastRPC, no libcdsprpc)", "base", "doctor --no-selftest", "nonzero",
          ("FAIL FastRPC devices", "FAIL libcdsprpc", "HTP absent")),
    Check("a CPU model (onnpu run --target cpu)", "base", f"run {WORK}/conv.onnx --random --target cpu", "zero",
          ("CPUExecutionProvider",)),
    Check("the NPU attempt without /dev/fastrpc-cdsp*: onnpu run --target npu", "base",
          f"run {WORK}/conv.qdq.onnx --random --target npu", "nonzero", ("missing: /dev/fastrpc-cdsp",)),
    Check("the NPU attempt with a FastRPC node but no libcdsprpc.so: onnpu run --target npu", "device",
          f"run {WORK}/conv.qdq.onnx --random --target npu", "nonzero",
          ("libcdsprpc.so (FastRPC's user library) is not installed",)),
    Check("the NPU attempt without libatomic.so.1: onnpu run --target npu", "device-no-libatomic",
          f"run {WORK}/conv.qdq.onnx --random --target npu", "nonzero",
          ("libatomic.so.1 (needed by QNN's libQnnHtp.so) is not installed",)),
]


def _state(state: str) -> str:
    """Shell lines setting up ``state`` inside the namespace (undone when the namespace ends, or explicitly)."""
    if state == "base":
        return ""
    lines = ['mkdir -p "$R/dev/dma_heap"']  # the nodes exist (as /dev/null); the files are removed after the run
    lines += [f'touch "$R/dev/{n}"; mount --bind /dev/null "$R/dev/{n}"' for n in DEVICE_NODES]
    if state == "device-no-libatomic":  # a loadable arm64 library stands in for libcdsprpc.so; libatomic hidden
        hidden = shlex.quote(str(BASE / "hidden"))
        lines += [f'cp "$R{LIBDIR}/libz.so.1" "$R{LIBDIR}/libcdsprpc.so"', f"mkdir -p {hidden}",
                  f'mv "$R{LIBDIR}"/libatomic.so* {hidden}/']
    return "\n".join(lines) + "\n"


DEVICE_NODES = ("fastrpc-cdsp", "dma_heap/system")


def _clean() -> None:
    """The device stand-ins' mount points, left on disk by a run's state."""
    for node in DEVICE_NODES:
        (ROOT / "dev" / node).unlink(missing_ok=True)
    if (ROOT / "dev" / "dma_heap").is_dir():
        (ROOT / "dev" / "dma_heap").rmdir()


def _undo(state: str) -> str:
    if state != "device-no-libatomic":
        return ""
    return f'rm -f "$R{LIBDIR}/libcdsprpc.so"\nmv {shlex.quote(str(BASE / "hidden"))}/libatomic.so* "$R{LIBDIR}/"\n'


def run_check(check: Check) -> dict[str, object]:
    start = time.perf_counter()
    _clean()
    done = namespace(_state(check.state) + f'chroot "$R" /usr/bin/env HOME=/root /opt/onnpu/bin/python -m onnpu '
                     f'{check.argv} 2>&1; echo "::exit $?"\n' + _undo(check.state), timeout=1800)
    _clean()
    out = done.stdout
    code = int(out.rsplit("::exit ", 1)[1].split()[0]) if "::exit " in out else -1
    text = " ".join(out.rsplit("::exit ", 1)[0].split())
    exit_ok = (code == 0) if check.wanted_exit == "zero" else (code not in (0, -1))
    missing = [w for w in check.wanted if w not in text]
    return {"check": check.name, "passed": exit_ok and not missing, "detail": f"exit {code}; {text[:900]}",
            "missing": missing, "seconds": round(time.perf_counter() - start, 1), "state": check.state}


def main() -> int:
    if shutil.which("unshare") is None or not Path(QEMU).exists():
        print("arm64-check needs util-linux's unshare and qemu-user-static (apt install qemu-user-static "
              "debootstrap)", file=sys.stderr)
        return 2
    for stray in (BASE / "hidden").glob("libatomic.so*"):  # an interrupted run's libatomic state, undone
        shutil.move(str(stray), ROOT / LIBDIR.lstrip("/") / stray.name)
    (ROOT / LIBDIR.lstrip("/") / "libcdsprpc.so").unlink(missing_ok=True)
    if not (ROOT / "opt" / "onnpu" / "bin" / "python").exists():
        print(f"building the arm64 root in {ROOT} (cold: about 35 minutes under emulation)", flush=True)
        build_root()
    dist = Path(tempfile.mkdtemp())
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(REPO)], check=True)
    wheel = next(dist.glob("onnpu-*.whl"))
    installed = install(wheel)
    models()
    results = []
    for check in CHECKS:
        results.append(run_check(check))
        print(("PASS " if results[-1]["passed"] else "FAIL ") + check.name, flush=True)
    out = BASE / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in results))
    debian = (ROOT / "etc" / "debian_version").read_text().strip()
    passed = sum(bool(r["passed"]) for r in results)
    rows = [f"| {r['check']} | {'PASS' if r['passed'] else 'FAIL'} | "
            f"{str(r['detail']).replace('|', '/')[:700]} | {r['seconds']} |" for r in results]
    fragment = ["## A real aarch64 userland (`make arm64-check`)", "",
                f"Debian {debian} arm64 under qemu user-mode emulation (`benchmarks/arm64_check.py`), {installed}. "
                "Each state is set up around its run; the message is the one a user gets (the check asserts the "
                "cause it must name). No DSP exists under emulation: `/dev/null` stands in for the FastRPC node, and "
                "in the libatomic state a loadable arm64 library stands in for libcdsprpc.so, so that libatomic.so.1 "
                "is the one thing missing.", "",
                "| check | result | what the user sees | s |", "|---|---|---|---|", *rows, "",
                f"{passed} of {len(results)} checks passed on {time.strftime('%Y-%m-%d')}.", "",
                "<sub>`make arm64-check` (not part of `make test`; run it whenever board-facing code "
                "changes).</sub>", ""]
    (HERE / "results" / "arm64.md").write_text("\n".join(fragment))
    print("\n".join(fragment))
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
