"""Hardware targets as data: a provider, its validated options, and whether nodes may fall back to the CPU."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from onnpu.errors import ProviderOptionError, TargetError
from onnpu.runtime.qnn_options import validate_qnn_options

QNN = "QNNExecutionProvider"
CPU = "CPUExecutionProvider"

ALIASES: dict[str, str] = {"cpu": CPU, "npu": QNN, "qnn": QNN, "htp": QNN}

# --- which QNN backend a target uses, named for what it is: only the HTP is the NPU -----------------------
QNN_DEVICES = {"htp": "NPU", "cpu": "QNN CPU", "gpu": "QNN GPU", "saver": "QNN saver", "ir": "QNN IR"}
QNN_BACKEND_TARGETS = {f"qnn-{b}": b for b in QNN_DEVICES if b != "htp"}  # --target qnn-cpu, ...


def qnn_backend(options: Mapping[str, str]) -> str:
    """``backend_type``, else the backend a ``backend_path`` library names (``libQnnCpu.so`` → cpu), else htp."""
    if options.get("backend_type"):
        return options["backend_type"]
    path = options.get("backend_path")
    if not path:
        return "htp"
    stem = path.replace("\\", "/").rsplit("/", 1)[-1].lower()
    return next((b for b in QNN_DEVICES if f"qnn{b}" in stem), "custom")


def require_inference(target: Target, verb: str) -> None:
    """Refuse a target that computes nothing: the QNN saver backend records the QNN API calls (into
    ``./saver_output``) and returns no real outputs."""
    if target.backend == "saver":
        raise TargetError(f"{verb} needs a backend that computes: the QNN saver backend (backend_type=saver) "
                          "only records the QNN calls into ./saver_output and returns no real outputs",
                          hint="use --target npu (the HTP) to run the model")


@dataclass(frozen=True)
class Target:
    """Where a model runs: one ONNX Runtime execution provider, its options, and whether nodes it cannot
    run may fall back to the CPU."""

    name: str
    provider: str
    options: tuple[tuple[str, str], ...] = ()
    allow_fallback: bool = True

    @property
    def is_qnn(self) -> bool:
        return self.provider == QNN

    @property
    def options_dict(self) -> dict[str, str]:
        return dict(self.options)

    @property
    def backend(self) -> str | None:
        """The QNN backend (``htp``, ``cpu``, ``gpu``, ``saver``, ``ir``, ``custom``); None for other providers."""
        return qnn_backend(self.options_dict) if self.is_qnn else None

    @property
    def device(self) -> str:
        """Where the target's nodes run, in words: ``NPU`` only for the QNN HTP backend."""
        if self.is_qnn:
            return QNN_DEVICES.get(self.backend or "", "QNN backend " + self.options_dict.get("backend_path", ""))
        return {CPU: "CPU"}.get(self.provider, self.provider)

    def describe(self) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in self.options)
        fallback = "" if self.allow_fallback else ", no CPU fallback"
        return f"{self.name} ({self.provider}{': ' + opts if opts else ''}{fallback})"


def get_target(name: str, options: Mapping[str, str] | None = None, *, allow_fallback: bool = True) -> Target:
    """Resolve ``cpu``, ``npu`` (QNN HTP) or any ONNX Runtime provider name to a validated Target."""
    key = name.strip()
    opts = dict(options or {})
    provider = ALIASES.get(key.lower())
    if key.lower() in QNN_BACKEND_TARGETS:
        provider = QNN
        opts.setdefault("backend_type", QNN_BACKEND_TARGETS[key.lower()])
    if provider is None:
        import onnxruntime as ort

        known = ort.get_all_providers()
        matches = [p for p in known if p.lower() in (key.lower(), key.lower() + "executionprovider")]
        if not matches:
            available = ", ".join(ort.get_available_providers())
            raise TargetError(f"unknown target {name!r}",
                              hint=f"use cpu, npu (QNN HTP), or a provider this onnxruntime has: {available}")
        provider = matches[0]
    if provider == QNN:
        opts = validate_qnn_options(opts)
    elif provider == CPU and opts:
        raise ProviderOptionError(f"the cpu target takes no provider options (got {', '.join(opts)})",
                                  hint="drop --ep-option, or use --target npu for QNN options")
    short = {CPU: "cpu", QNN: "npu"}.get(provider, key)
    if provider == QNN and qnn_backend(opts) != "htp":
        backend = qnn_backend(opts)
        short = f"qnn-{backend}" if backend in QNN_DEVICES else "qnn"  # not "npu": it does not run on the NPU
    return Target(short, provider, tuple(sorted(opts.items())), allow_fallback)
