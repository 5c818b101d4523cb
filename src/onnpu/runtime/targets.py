"""Hardware targets as data: a provider, its validated options, and whether nodes may fall back to the CPU."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from onnpu.errors import ProviderOptionError, TargetError
from onnpu.runtime.qnn_options import validate_qnn_options

QNN = "QNNExecutionProvider"
CPU = "CPUExecutionProvider"

ALIASES: dict[str, str] = {"cpu": CPU, "npu": QNN, "qnn": QNN, "htp": QNN}


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

    def describe(self) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in self.options)
        fallback = "" if self.allow_fallback else ", no CPU fallback"
        return f"{self.name} ({self.provider}{': ' + opts if opts else ''}{fallback})"


def get_target(name: str, options: Mapping[str, str] | None = None, *, allow_fallback: bool = True) -> Target:
    """Resolve ``cpu``, ``npu`` (QNN HTP) or any ONNX Runtime provider name to a validated Target."""
    key = name.strip()
    provider = ALIASES.get(key.lower())
    if provider is None:
        import onnxruntime as ort

        known = ort.get_all_providers()
        matches = [p for p in known if p.lower() in (key.lower(), key.lower() + "executionprovider")]
        if not matches:
            available = ", ".join(ort.get_available_providers())
            raise TargetError(f"unknown target {name!r}",
                              hint=f"use cpu, npu (QNN HTP), or a provider this onnxruntime has: {available}")
        provider = matches[0]
    opts = dict(options or {})
    if provider == QNN:
        opts = validate_qnn_options(opts)
    elif provider == CPU and opts:
        raise ProviderOptionError(f"the cpu target takes no provider options (got {', '.join(opts)})",
                                  hint="drop --ep-option, or use --target npu for QNN options")
    short = {CPU: "cpu", QNN: "npu"}.get(provider, key)
    return Target(short, provider, tuple(sorted(opts.items())), allow_fallback)
