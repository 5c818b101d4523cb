"""Compiled models (EP context models) for the NPU: compiling one for a SoC with ONNX Runtime's compile API,
reading what one was compiled for (its compatibility info and the SoC records inside the QNN binary), and
picking, from a compile folder or manifest, the file for the SoC a target runs on, verified before loading
(``onnpu.runtime.deployment``). Loading imports no onnx (models are read by ``onnpu.model.proto``)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onnpu.errors import ModelError, TargetError
from onnpu.model.files import metadata, parse_model_file, validate_model_file
from onnpu.runtime.compat import compatibility
from onnpu.runtime.deployment import (
    MANIFEST,
    Manifest,
    check_context_file,
    context_records,
    load_manifest,
    manifest_beside,
    rebuild_hint,
    verify_file,
)
from onnpu.runtime.qnn import qnn_status, version_tuple
from onnpu.runtime.targets import Target

if TYPE_CHECKING:
    from onnpu.model.proto import ModelProto

__all__ = ["MANIFEST", "ContextInfo", "check_context", "compile_model", "context_info", "is_context_model",
           "model_for_target", "resolve_compiled"]


@dataclass
class ContextInfo:
    """What a compiled model says about itself."""

    path: Path
    compat: str | None  # v2:<backend>:<qnn sdk>:<qnn api>:<htp_arch>:<soc_model>:<vtcm>:…
    qnn_sdk: str | None
    soc_models: list[int]
    records: list[tuple[str, int]]  # (SoC name, HTP arch) read from the QNN binary
    multi_soc: bool
    embed_mode: int | None
    binaries: list[str] = field(default_factory=list)  # external context binaries (embed mode 0)

    def to_dict(self) -> dict[str, Any]:
        return {"compat": self.compat, "qnn_sdk": self.qnn_sdk, "soc_models": self.soc_models,
                "records": [{"soc": n, "htp_arch": a} for n, a in self.records], "multi_soc": self.multi_soc,
                "embed_mode": self.embed_mode, "binaries": self.binaries}


def is_context_model(model: ModelProto) -> bool:
    return any(n.op_type == "EPContext" for n in model.graph.node)


def context_info(path: Path, model: ModelProto | None = None, *, records: bool = True) -> ContextInfo:
    """Read a compiled model's compatibility info and (``records``) the SoC records of its QNN binaries, which
    means reading and scanning the binaries."""
    proto = model if model is not None else parse_model_file(path)
    parsed = compatibility(metadata(proto))
    compat, sdk = (parsed.text, parsed.qnn_sdk) if parsed else (None, None)
    soc_models = list(parsed.soc_models) if parsed else []
    found, binaries, multi, embed = context_records(path, proto)
    return ContextInfo(path, compat, sdk, soc_models, found if records else [], multi or len(soc_models) > 1,
                       embed, binaries)


def compile_model(model: str | Path, target: Target, out: Path, *, embed: bool = True,
                  dims: Mapping[str, int] | None = None) -> float:
    """Compile ``model`` for ``target``'s HTP into the EP context model ``out`` (with its ``_qnn.bin`` beside it
    when not embedded); returns the seconds it took. Nodes the NPU refuses fail the compile unless the target
    allows CPU fallback."""
    import onnxruntime as ort

    from onnpu.runtime.failures import explain_failure
    from onnpu.runtime.native_log import capture_native
    from onnpu.runtime.ort_errors import first_line
    from onnpu.runtime.session import attach_provider, session_options

    src = Path(model)
    proto = validate_model_file(src)
    so = session_options(target, dims, None, 2, None, "all")
    attach_provider(so, target, for_compile=True)
    start = time.perf_counter()
    try:
        with capture_native() as log:
            compiler = ort.ModelCompiler(so, str(src), embed_compiled_data_into_model=embed,
                                         flags=ort.OrtCompileApiFlags.ERROR_IF_NO_NODES_COMPILED)
            compiler.compile_to_file(str(out))
    except Exception as exc:  # ORT's own exception types
        text = str(exc)
        lighter = target.lighter_finalization(text)
        if lighter is not None:  # QNN's graph optimiser ran out of memory: compile with its lighter mode
            return compile_model(model, lighter, out, embed=embed, dims=dims)
        known = explain_failure(text, log, target, proto, str(src))
        if known is not None:
            raise known from exc
        raise ModelError(f"{src}: compiling for {target.hardware} failed: {first_line(text)}",
                         hint=f"run `onnpu placement {src} --soc ...` to see what the NPU refuses") from exc
    return time.perf_counter() - start


def check_context(path: Path, model: ModelProto, target: Target, manifest: Manifest | None = None,
                  entry: Mapping[str, Any] | None = None) -> ContextInfo:
    """A compiled model must be what QNN wrote (its binary's records agree with its metadata and manifest), have
    been compiled for the target's SoC, and by a QNN no newer than this one: checked before loading (a mismatch
    would fail inside QNN, or misbehave)."""
    if not target.is_qnn:
        raise TargetError(f"{path}: a model compiled for the NPU runs only on the npu target",
                          hint="use --target npu, or the original (uncompiled) model on the CPU")
    info = context_info(path, model)
    records = info.records
    check_context_file(path, model, records, manifest, entry)
    here = qnn_status().qnn_sdk_version
    if info.qnn_sdk and here and version_tuple(info.qnn_sdk) > version_tuple(here):
        raise TargetError(f"{path}: compiled with QNN {info.qnn_sdk}; this onnxruntime-qnn has QNN {here}",
                          hint="compile it again here with `onnpu compile`, or upgrade onnxruntime-qnn")
    if target.soc is not None and info.soc_models and target.soc.soc_model not in info.soc_models:
        fits = _sibling_for(path, target)
        names = ", ".join(n for n, _ in records)
        raise TargetError(f"{path}: compiled for soc_model {','.join(map(str, info.soc_models))}"
                          f" ({names or 'another SoC'}), not for {target.soc.label}",
                          hint=f"use {fits}" if fits else f"compile it for {target.soc.name.lower()}: "
                          f"`onnpu compile SOURCE.onnx --soc {target.soc.name.lower()} -o DIR`")
    return info


def _sibling_for(path: Path, target: Target) -> str | None:
    if not (path.parent / MANIFEST).is_file() or target.soc is None:
        return None
    try:
        entry = load_manifest(path.parent).pick(target.soc.soc_model)
    except ModelError:
        return None
    return str(path.parent / entry["file"]) if entry else None


def resolve_compiled(path: Path, target: Target) -> Path:
    """A compile folder or its ``manifest.json``: the file compiled for ``target``'s SoC."""
    manifest = load_manifest(path)
    if target.soc is None:
        raise TargetError(f"{path}: holds models compiled per SoC; this target names none",
                          hint="name the SoC with --soc")
    entry = manifest.pick(target.soc.soc_model)
    if entry is None:
        have = ", ".join(str(e.get("soc", "?")).lower() for e in manifest.entries)
        raise TargetError(f"{path}: no model compiled for {target.soc.label} (it has: {have or 'none'})",
                          hint=f"compile one: `onnpu compile {manifest.source_path} "
                               f"--soc {target.soc.name.lower()} -o {manifest.folder}`")
    return manifest.folder / str(entry["file"])


def model_for_target(model: str | Path, target: Target) -> tuple[Path, ModelProto, ContextInfo | None]:
    """The file to load for ``target``: a compile folder or manifest resolves to the file for its SoC, verified
    against the manifest (files, the context's records, the source's fingerprint); a compiled model is checked
    against the target (SoC, QNN version). Returns the path, its checked graph and, for a compiled model, what
    it was compiled for (None for a plain model)."""
    path = Path(model)
    if path.is_dir() or path.name == MANIFEST:
        path = resolve_compiled(path, target)
    manifest = manifest_beside(path)
    entry = verify_file(path, manifest) if manifest is not None else None
    proto = validate_model_file(path)
    if not is_context_model(proto):
        if manifest is not None:
            raise ModelError(f"{path}: listed in {manifest.path} but holds no compiled context",
                             hint=rebuild_hint(manifest, entry))
        return path, proto, None
    return path, proto, check_context(path, proto, target, manifest, entry)
