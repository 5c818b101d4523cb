"""The QNN EP's compatibility string of a compiled (EP context) model, parsed in one place. ONNX Runtime writes it
into the model's metadata (``ep_compatibility_info.QNNExecutionProvider``) as
``v2:<backend>:<QNN SDK>:<QNN API>:<HTP arch>:<soc_model>:<VTCM>:…``; a multi-SoC model lists several archs and
``soc_model``s, comma-separated (measured with onnxruntime-qnn 2.7, QNN 2.51)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

COMPAT_KEY = "ep_compatibility_info.QNNExecutionProvider"

__all__ = ["COMPAT_KEY", "Compatibility", "compatibility", "parse_compatibility"]


@dataclass(frozen=True)
class Compatibility:
    text: str
    format: str | None  # "v2"
    backend: str | None
    qnn_sdk: str | None
    qnn_api: str | None
    htp_archs: tuple[int, ...]  # 0 (none recorded) left out
    soc_models: tuple[int, ...]  # 0 (none recorded) left out

    @property
    def htp_arch(self) -> int | None:
        """The one HTP arch of a single-SoC model."""
        return self.htp_archs[0] if len(self.htp_archs) == 1 else None


def _numbers(field: str) -> tuple[int, ...]:
    return tuple(int(x) for x in field.split(",") if x.strip().isdigit() and int(x))


def parse_compatibility(text: str | None) -> Compatibility | None:
    """The fields of a compatibility string (None when there is none)."""
    if not text:
        return None
    parts = text.split(":")

    def part(i: int) -> str | None:
        return parts[i] if len(parts) > i and parts[i] else None

    return Compatibility(text, part(0), part(1), part(2), part(3), _numbers(part(4) or ""), _numbers(part(5) or ""))


def compatibility(metadata: Mapping[str, str]) -> Compatibility | None:
    """A model's compatibility info, from its metadata (``onnpu.model.files.metadata``)."""
    return parse_compatibility(metadata.get(COMPAT_KEY))
