"""How the QNN execution provider is found in this process: built into onnxruntime (older board wheels) or
the ``onnxruntime-qnn`` plugin (registered once), its backend libraries and HTP skeletons per platform."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import onnxruntime as ort

from onnpu.errors import TargetError
from onnpu.machine import htp_is_emulated
from onnpu.runtime.targets import QNN

INSTALL_HINT = "install the QNN execution provider: pip install 'onnpu[qnn]' (PyPI onnxruntime-qnn)"
PLUGIN_MIN_ORT = (1, 24, 2)


def backend_library(backend: str) -> str:
    """File name of a QNN backend library on this platform: ``libQnnHtp.so`` on Linux, ``QnnHtp.dll`` on
    Windows."""
    stem = "Qnn" + backend.capitalize()
    return f"{stem}.dll" if sys.platform == "win32" else f"lib{stem}.so"


@dataclass
class QnnStatus:
    """How (and whether) the QNN EP can be loaded in this process."""

    mode: Literal["plugin", "builtin", "missing"]
    onnxruntime_version: str
    plugin_version: str | None = None
    qnn_sdk_version: str | None = None
    library_dir: str | None = None
    backends: dict[str, bool] = field(default_factory=dict)
    htp_skels: list[str] = field(default_factory=list)
    problem: str | None = None

    @property
    def available(self) -> bool:
        return self.mode != "missing"

    @property
    def generation(self) -> str:
        """Which generation of the QNN EP this onnxruntime has: the plugin (PyPI's onnxruntime-qnn 2.x), built in
        (the 1.2x board wheels), or none."""
        if self.mode == "plugin":
            return f"plugin EP {self.plugin_version or '2.x'} (onnxruntime-qnn, onnxruntime {self.onnxruntime_version})"
        if self.mode == "builtin":
            return f"built-in EP (onnxruntime {self.onnxruntime_version})"
        return f"none (onnxruntime {self.onnxruntime_version} without the QNN EP)"

    @property
    def htp_kind(self) -> str:
        if not self.backends.get("htp", self.mode == "builtin"):
            return "absent"
        if htp_is_emulated():
            return "emulator (x86_64 host: HTP graphs run on the CPU, bit-faithful but slow)"
        return "hardware (Hexagon NPU: " + (", ".join(self.htp_skels) or "skel libraries not found") + ")"


_lock = threading.Lock()
_registered = False


def version_tuple(text: str) -> tuple[int, ...]:
    """``2.51.0.260929`` → ``(2, 51, 0)``: the first three numbers, for comparisons."""
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def qnn_status() -> QnnStatus:
    """Find the QNN EP: built into onnxruntime (older board wheels) or the ``onnxruntime-qnn`` plugin."""
    status = QnnStatus(mode="missing", onnxruntime_version=ort.__version__)
    # Once the plugin is registered, onnxruntime lists QNN among the available providers too: check the
    # plugin first, so that a registered plugin is never mistaken for a built-in EP.
    if QNN in ort.get_available_providers() and not _registered:
        status.mode = "builtin"
        status.backends = {"htp": True}
        return status
    try:
        import onnxruntime_qnn
    except ImportError:
        status.problem = f"no QNN execution provider: onnxruntime {ort.__version__} has none built in " \
                         "and the onnxruntime-qnn plugin is not installed"
        return status
    status.plugin_version = getattr(onnxruntime_qnn, "__version__", None)
    info = getattr(onnxruntime_qnn, "build_and_package_info", None)
    status.qnn_sdk_version = getattr(info, "qnn_version", None)
    lib = Path(onnxruntime_qnn.get_library_path())
    status.library_dir = str(lib.parent)
    status.backends = {b: (lib.parent / backend_library(b)).exists() for b in ("htp", "cpu", "gpu")}
    status.htp_skels = sorted(p.name for p in lib.parent.iterdir() if p.name.lower().startswith("libqnnhtpv")
                              and p.name.lower().endswith("skel.so")) if lib.parent.is_dir() else []
    if not hasattr(ort, "register_execution_provider_library") or \
            version_tuple(ort.__version__) < PLUGIN_MIN_ORT:
        status.problem = f"onnxruntime-qnn {status.plugin_version} is a plugin EP and needs onnxruntime ≥ " \
                         f"{'.'.join(map(str, PLUGIN_MIN_ORT))}; this is onnxruntime {ort.__version__}"
        return status
    if not lib.exists():
        status.problem = f"the QNN plugin library is missing: {lib}"
        return status
    status.mode = "plugin"
    return status


def ensure_qnn() -> QnnStatus:
    """Make the QNN EP usable in this process (registers the plugin once); raise TargetError if impossible."""
    global _registered
    status = qnn_status()
    if not status.available:
        installed = ", ".join(ort.get_available_providers())
        raise TargetError(f"the npu target needs the QNN execution provider: {status.problem} "
                          f"(available providers: {installed})", hint=INSTALL_HINT)
    if status.mode == "plugin":
        with _lock:
            if not _registered and not qnn_devices():
                import onnxruntime_qnn

                try:
                    ort.register_execution_provider_library(QNN, onnxruntime_qnn.get_library_path())
                except Exception as exc:  # the plugin failed to load: report, never fall back silently
                    raise TargetError(f"the QNN plugin library could not be loaded: {exc}",
                                      hint="run `onnpu doctor` to check onnxruntime / onnxruntime-qnn") from exc
            _registered = True
        if not qnn_devices():
            raise no_device_error()
    return status


def no_device_error() -> TargetError:
    """The QNN plugin offers no device: on a board, the prerequisite that fails says why (no FastRPC device, no
    Qualcomm SoC, ...)."""
    from onnpu.runtime.board_checks import board_cause  # the board's prerequisites, checked

    board = board_cause(qnn_status().library_dir)
    if board:
        return TargetError(f"the QNN plugin offers no NPU device: {board[0]}", hint=board[1])
    return TargetError("the QNN plugin is registered but offers no device", hint="run `onnpu doctor`")


def qnn_devices() -> list[Any]:
    """The EP devices the registered QNN plugin offers (empty before registration or with a built-in EP)."""
    if not hasattr(ort, "get_ep_devices"):
        return []
    return [d for d in ort.get_ep_devices() if d.ep_name == QNN]


def package_version(name: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None
