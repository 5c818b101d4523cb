"""Compiled models (EP context models) for the NPU: compiling one for a SoC with ONNX Runtime's compile API,
reading what one was compiled for (its compatibility info and the SoC records inside the QNN binary), and
picking, from a compile folder or manifest, the file for the SoC a target runs on, checked before loading."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx
import onnxruntime as ort

from onnpu.errors import ModelError, TargetError
from onnpu.model.files import metadata, parse_model_file, validate_model_file
from onnpu.runtime.compat import compatibility
from onnpu.runtime.failures import explain_failure
from onnpu.runtime.native_log import capture_native
from onnpu.runtime.qnn import qnn_status, version_tuple
from onnpu.runtime.session import attach_provider, first_line, session_options
from onnpu.runtime.targets import Target

MANIFEST = "manifest.json"
_RECORD = re.compile(rb"soc_type=([A-Za-z0-9_]+);arch=(\d+)")


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


def is_context_model(model: onnx.ModelProto) -> bool:
    return any(n.op_type == "EPContext" for n in model.graph.node)


def context_info(path: Path, model: onnx.ModelProto | None = None, *, records: bool = True) -> ContextInfo:
    """Read a compiled model's compatibility info and (``records``) the SoC records of its QNN binaries, which
    means reading and scanning the binaries."""
    proto = model if model is not None else parse_model_file(path)
    parsed = compatibility(metadata(proto))
    compat, sdk = (parsed.text, parsed.qnn_sdk) if parsed else (None, None)
    soc_models = list(parsed.soc_models) if parsed else []
    found: list[tuple[str, int]] = []
    binaries: list[str] = []
    multi = False
    embed: int | None = None
    for node in proto.graph.node:
        if node.op_type != "EPContext":
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        embed = int(attrs.get("embed_mode", 1))
        multi = multi or bool(attrs.get("is_multi_soc_ep_context", 0))
        data = attrs.get("ep_cache_context", b"")
        if embed == 0 and data:
            binaries.append(data.decode())
            binary = path.parent / data.decode()
            data = binary.read_bytes() if records and binary.is_file() else b""
        for name, arch in _RECORD.findall(data) if records else ():
            if (name.decode(), int(arch)) not in found:
                found.append((name.decode(), int(arch)))
    return ContextInfo(path, compat, sdk, soc_models, found, multi or len(soc_models) > 1, embed, binaries)


def compile_model(model: str | Path, target: Target, out: Path, *, embed: bool = True,
                  dims: Mapping[str, int] | None = None) -> float:
    """Compile ``model`` for ``target``'s HTP into the EP context model ``out`` (with its ``_qnn.bin`` beside it
    when not embedded); returns the seconds it took. Nodes the NPU refuses fail the compile unless the target
    allows CPU fallback."""
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
        known = explain_failure(text, log, target, proto, str(src))
        if known is not None:
            raise known from exc
        raise ModelError(f"{src}: compiling for {target.hardware} failed: {first_line(text)}",
                         hint=f"run `onnpu placement {src} --soc ...` to see what the NPU refuses") from exc
    return time.perf_counter() - start


def check_context(path: Path, model: onnx.ModelProto, target: Target) -> ContextInfo:
    """A compiled model must have been compiled for the target's SoC and by a QNN no newer than this one:
    checked before loading (a mismatch would fail inside QNN, or misbehave)."""
    info = context_info(path, model, records=False)  # the binary's records only name a mismatch
    if not target.is_qnn:
        raise TargetError(f"{path}: a model compiled for the NPU runs only on the npu target",
                          hint="use --target npu, or the original (uncompiled) model on the CPU")
    here = qnn_status().qnn_sdk_version
    if info.qnn_sdk and here and version_tuple(info.qnn_sdk) > version_tuple(here):
        raise TargetError(f"{path}: compiled with QNN {info.qnn_sdk}; this onnxruntime-qnn has QNN {here}",
                          hint="compile it again here with `onnpu compile`, or upgrade onnxruntime-qnn")
    if target.soc is not None and info.soc_models and target.soc.soc_model not in info.soc_models:
        fits = _sibling_for(path, target)
        names = ", ".join(n for n, _ in context_info(path, model).records)
        raise TargetError(f"{path}: compiled for soc_model {','.join(map(str, info.soc_models))}"
                          f" ({names or 'another SoC'}), not for {target.soc.label}",
                          hint=f"use {fits}" if fits else f"compile it for {target.soc.name.lower()}: "
                          f"`onnpu compile SOURCE.onnx --soc {target.soc.name.lower()} -o DIR`")
    return info


def _sibling_for(path: Path, target: Target) -> str | None:
    manifest = path.parent / MANIFEST
    if not manifest.is_file() or target.soc is None:
        return None
    try:
        entry = _pick(json.loads(manifest.read_text()), target.soc.soc_model)
    except (OSError, ValueError):
        return None
    return str(path.parent / entry["file"]) if entry else None


def _pick(manifest: dict[str, Any], soc_model: int) -> dict[str, Any] | None:
    entries = manifest.get("entries", [])
    single = [e for e in entries if e.get("soc_models") == [soc_model]]
    multi = [e for e in entries if soc_model in e.get("soc_models", [])]
    return (single or multi or [None])[0]


def resolve_compiled(path: Path, target: Target) -> Path:
    """A compile folder or its ``manifest.json``: the file compiled for ``target``'s SoC."""
    manifest_path = path / MANIFEST if path.is_dir() else path
    if not manifest_path.is_file():
        raise ModelError(f"{path}: is a folder, not an ONNX file (and holds no onnpu compile manifest)",
                         hint="pass the .onnx file inside it, or a folder written by `onnpu compile`")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{manifest_path}: not a readable onnpu compile manifest ({exc})",
                         hint="run `onnpu compile` again") from exc
    if target.soc is None:
        raise TargetError(f"{path}: holds models compiled per SoC; this target names none",
                          hint="name the SoC with --soc")
    entry = _pick(manifest, target.soc.soc_model)
    if entry is None:
        have = ", ".join(e.get("soc", "?").lower() for e in manifest.get("entries", []))
        raise TargetError(f"{path}: no model compiled for {target.soc.label} (it has: {have or 'none'})",
                          hint=f"compile one: `onnpu compile {manifest.get('source', {}).get('path', 'MODEL')} "
                               f"--soc {target.soc.name.lower()} -o {manifest_path.parent}`")
    return manifest_path.parent / str(entry["file"])


def model_for_target(model: str | Path, target: Target) -> tuple[Path, onnx.ModelProto, ContextInfo | None]:
    """The file to load for ``target``: a compile folder or manifest resolves to the file for its SoC; a
    compiled model is checked against the target (SoC, QNN version). Returns the path, its checked graph and,
    for a compiled model, what it was compiled for (None for a plain model)."""
    path = Path(model)
    if path.is_dir() or path.name == MANIFEST:
        path = resolve_compiled(path, target)
    proto = validate_model_file(path)
    if not is_context_model(proto):
        return path, proto, None
    return path, proto, check_context(path, proto, target)
