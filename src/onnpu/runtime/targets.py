"""Hardware targets as data: a provider, its validated options, whether nodes may fall back to the CPU, and
for the NPU the SoC whose HTP it runs (on a board) or emulates (on a workstation)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from onnpu.errors import ProviderOptionError, TargetError
from onnpu.machine import htp_is_emulated
from onnpu.runtime.qnn_options import validate_qnn_options
from onnpu.runtime.socs import Soc, choose_soc, soc_for_model

QNN = "QNNExecutionProvider"
CPU = "CPUExecutionProvider"

ALIASES: dict[str, str] = {"cpu": CPU, "npu": QNN, "qnn": QNN, "htp": QNN}
QNN_BACKENDS = {"htp": "QNN HTP", "cpu": "QNN CPU", "gpu": "QNN GPU", "saver": "QNN saver", "ir": "QNN IR"}

# --- which QNN backend a target uses, named for what it is: only the HTP is the NPU -----------------------
QNN_BACKEND_TARGETS = {f"qnn-{b}": b for b in QNN_BACKENDS if b != "htp"}  # --target qnn-cpu, ...


def qnn_backend(options: Mapping[str, str]) -> str:
    """``backend_type``, else the backend a ``backend_path`` library names (``libQnnCpu.so`` → cpu), else htp."""
    if options.get("backend_type"):
        return options["backend_type"]
    path = options.get("backend_path")
    if not path:
        return "htp"
    stem = path.replace("\\", "/").rsplit("/", 1)[-1].lower()
    return next((b for b in QNN_BACKENDS if f"qnn{b}" in stem), "htp")


def require_inference(target: Target, verb: str) -> None:
    """Refuse a target that computes nothing: the QNN saver backend records the QNN API calls (into
    ``./saver_output``) and returns no real outputs."""
    if target.backend == "saver":
        raise TargetError(f"{verb} needs a backend that computes: the QNN saver backend (backend_type=saver) "
                          "only records the QNN calls into ./saver_output and returns no real outputs",
                          hint="use --target npu (the HTP) to run the model")


MEM_ALLOC = "QNN_COMMON_ERROR_MEM_ALLOC"
FINALIZE_MODE = "htp_graph_finalization_optimization_mode"  # 1: faster preparation, a less optimised graph


@dataclass(frozen=True)
class Target:
    """Where a model runs: one ONNX Runtime execution provider, its options, and whether nodes it cannot
    run may fall back to the CPU. ``soc`` is the SoC an HTP target compiles for (its ``soc_model`` is in the
    options); ``soc_source`` says where that choice came from."""

    name: str
    provider: str
    options: tuple[tuple[str, str], ...] = ()
    allow_fallback: bool = True
    soc: Soc | None = None
    soc_source: str = ""

    @property
    def is_qnn(self) -> bool:
        return self.provider == QNN

    @property
    def options_dict(self) -> dict[str, str]:
        return dict(self.options)

    @property
    def backend(self) -> str | None:
        """The QNN backend (``htp``, ``cpu``, ``gpu``, ``saver``, ...), or None for other providers."""
        if not self.is_qnn:
            return None
        return qnn_backend(self.options_dict)

    @property
    def device(self) -> str:
        """Where the target's nodes run, in words: ``NPU`` only for the QNN HTP backend."""
        return "NPU" if self.is_htp else self.hardware

    @property
    def is_htp(self) -> bool:
        return self.backend == "htp"

    @property
    def backend_label(self) -> str:
        """The QNN backend in words: ``QNN HTP``, ``QNN CPU``, ``QNN saver``."""
        return QNN_BACKENDS.get(self.backend or "", f"QNN {self.backend or ''}")

    @property
    def hardware(self) -> str:
        """What the target runs on, in words: ``QCS6490 HTP v68 (emulated)``, ``CPU``, ``QNN GPU``."""
        if not self.is_qnn:
            return {CPU: "CPU"}.get(self.provider, self.provider)
        if not self.is_htp:
            return self.backend_label
        where = "emulated" if htp_is_emulated() else "hardware"
        if self.soc is not None:
            return f"{self.soc.name} HTP v{self.soc.htp_arch}, {where}"
        arch = self.options_dict.get("htp_arch")
        return f"HTP v{arch}, {where}, no SoC named" if arch else f"HTP, {where}, the QNN default"

    def with_fallback(self, allow: bool) -> Target:
        return dataclasses.replace(self, allow_fallback=allow)

    def lighter_finalization(self, failure: str) -> Target | None:
        """The same HTP target with QNN's lighter graph optimisation at finalize, when ``failure`` is QNN running
        out of memory while finalizing (QNN_COMMON_ERROR_MEM_ALLOC) and the user chose no mode: measured on a
        transformer token classifier (v68 and v73) and its 138-node prefix, the default optimiser fails where mode
        1 finalizes. None when that does not apply (then the failure stands)."""
        if not self.is_htp or MEM_ALLOC not in failure or FINALIZE_MODE in self.options_dict:
            return None
        return dataclasses.replace(self, options=(*self.options, (FINALIZE_MODE, "1")))

    def describe(self) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in self.options)
        fallback = "" if self.allow_fallback else ", no CPU fallback"
        where = f" on {self.hardware}" if self.is_qnn else ""
        return f"{self.name}{where} ({self.provider}{': ' + opts if opts else ''}{fallback})"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "provider": self.provider, "options": self.options_dict,
                "allow_fallback": self.allow_fallback, "hardware": self.hardware, "backend": self.backend,
                "soc": self.soc.to_dict() | {"source": self.soc_source} if self.soc else None,
                "htp_emulated": htp_is_emulated() if self.is_htp else None}


def _with_soc(opts: dict[str, str], soc: str | None, purpose: str) -> tuple[dict[str, str], Soc | None, str]:
    """Options with the ``soc_model`` of the chosen SoC, the SoC, and where it came from."""
    if opts.get("backend_type", "htp") != "htp" or "backend_path" in opts:
        if soc:
            raise ProviderOptionError(f"--soc {soc} applies to the HTP backend only",
                                      hint="drop --soc, or the backend_type/backend_path option")
        return opts, None, ""
    if "soc_model" in opts:
        chosen = soc_for_model(int(opts["soc_model"]))
        if soc and choose_soc(soc, purpose=purpose).soc.soc_model != chosen.soc_model:
            raise ProviderOptionError(f"--soc {soc} and --ep-option soc_model={opts['soc_model']} "
                                      f"({chosen.name}) conflict", hint="give only one of them")
        source = "--ep-option soc_model"
    elif "htp_arch" in opts and not soc:
        return opts, None, ""  # an arch without a SoC: compiled for that generation, no soc_model
    else:
        choice = choose_soc(soc, purpose=purpose)
        chosen, source = choice.soc, choice.source
        opts = {**opts, "soc_model": str(chosen.soc_model)}
    if "htp_arch" in opts and int(opts["htp_arch"]) not in (0, chosen.htp_arch):
        raise ProviderOptionError(f"--ep-option htp_arch={opts['htp_arch']} conflicts with {chosen.label}",
                                  hint="drop htp_arch: the SoC fixes the HTP arch (QNN would silently "
                                       "compile for the SoC's)")
    return opts, chosen, source


def get_target(name: str, options: Mapping[str, str] | None = None, *, allow_fallback: bool = True,
               soc: str | None = None, purpose: str = "run") -> Target:
    """Resolve ``cpu``, ``npu`` (QNN HTP) or any ONNX Runtime provider name to a validated Target.

    For the HTP, ``soc`` names the SoC (``qcs6490``, ``qcs8550``, ...); without it the SoC comes from
    ``ONNPU_SOC``, the user config file, the board onnpu runs on, else QCS6490 (HTP v68, the most restrictive
    Dragonwing NPU). ``purpose="compile"`` allows a SoC other than the board's own.
    """
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
    chosen: Soc | None = None
    source = ""
    if provider == QNN:
        opts = validate_qnn_options(opts)
        opts, chosen, source = _with_soc(opts, soc, purpose)
        for option in ("enable_htp_fp16_precision", "htp_bf16_enable"):
            if opts.get(option) == "1" and "soc_model" not in opts:
                raise ProviderOptionError(f"QNN option {option}=1 needs a SoC ('soc_model')",
                                          hint="name it with --soc (e.g. --soc qcs8550) instead of htp_arch")
    elif soc:
        raise ProviderOptionError(f"--soc {soc} applies to the npu target only", hint="use --target npu, or drop --soc")
    elif provider == CPU and opts:
        raise ProviderOptionError(f"the cpu target takes no provider options (got {', '.join(opts)})",
                                  hint="drop --ep-option, or use --target npu for QNN options")
    short = {CPU: "cpu", QNN: "npu"}.get(provider, key)
    backend = qnn_backend(opts) if provider == QNN else "htp"
    if backend != "htp":
        short = f"qnn-{backend}" if backend in QNN_BACKENDS else "qnn"  # not "npu": it does not run on the NPU
    return Target(short, provider, tuple(sorted(opts.items())), allow_fallback, chosen, source)
