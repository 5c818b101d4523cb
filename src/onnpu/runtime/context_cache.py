"""The compiled QNN context (EP context model), cached under the user cache dir.

Key: the model's bytes (and its external data), the provider options, the session's fixed dims and
fallback setting, and the onnxruntime / onnxruntime-qnn / QNN SDK versions and machine. An entry is only
replaced when it is really stale or broken: its recorded key fields do not match, a file is missing or has
another size than recorded, or the EP refuses the context while a fresh compile of the same model succeeds.
An error that a fresh compile repeats (a bad option, a model the NPU cannot take) leaves the entry alone.
Each entry is locked while it is checked, loaded or built: two processes (or threads) opening the same model
at once compile it once, and the other loads the result."""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import onnxruntime as ort

from onnpu import jsonio
from onnpu.errors import OnnpuError
from onnpu.guards import room_for_writing, write_error
from onnpu.model.files import external_data_files, validate_model_file
from onnpu.paths import cache_area, lock_file
from onnpu.runtime.placement import AssignedSubgraph
from onnpu.runtime.qnn import qnn_status
from onnpu.runtime.session import LoadedSession, create_session
from onnpu.runtime.targets import Target
from onnpu.storage import atomic_write, discard_dir, locked, sha256_file, staging_dir, sweep_leftovers

if TYPE_CHECKING:
    import onnx

CACHE_FORMAT = 3  # bump when what a cache entry holds changes
CTX_NAME = "model_ctx.onnx"
META_NAME = "cache.json"
# Options that do not change the compiled graph
NEUTRAL_OPTIONS = {"profiling_level", "profiling_file_path", "htp_performance_mode", "rpc_control_latency",
                   "qnn_context_priority"}


@dataclass
class CacheEntry:
    key: str
    folder: Path
    model: str
    options: dict[str, str]
    created: float
    size_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "folder": str(self.folder), "model": self.model, "options": self.options,
                "created": self.created, "size_bytes": self.size_bytes}


def contexts_dir() -> Path:
    return cache_area("contexts")


def cache_key(model: Path, target: Target, dims: Mapping[str, int] | None) -> tuple[str, dict[str, Any]]:
    return _key(model, target, dims)[:2]


def _key(model: Path, target: Target, dims: Mapping[str, int] | None,
         checked: onnx.ModelProto | None = None) -> tuple[str, dict[str, Any], onnx.ModelProto]:
    """The key, its fields, and the model's graph (checked: external data confined and long enough)."""
    proto = checked if checked is not None else validate_model_file(model)
    status = qnn_status()
    fields = {
        "format": CACHE_FORMAT,
        "options": {k: v for k, v in target.options if k not in NEUTRAL_OPTIONS},
        "fallback": target.allow_fallback,
        "dims": dict(sorted((dims or {}).items())),
        "onnxruntime": ort.__version__,
        "onnxruntime_qnn": status.plugin_version,
        "qnn_sdk": status.qnn_sdk_version,
        "machine": platform.machine(),
    }
    h = hashlib.sha256(json.dumps(fields, sort_keys=True).encode())
    sha256_file(model, into=h)
    for name in external_data_files(proto):
        sha256_file(model.parent / name, into=h)
    return h.hexdigest()[:32], fields, proto


def _subgraphs_to_json(subgraphs: list[AssignedSubgraph] | None) -> list[dict[str, Any]] | None:
    if subgraphs is None:
        return None
    return [{"provider": s.provider, "nodes": [list(n) for n in s.nodes]} for s in subgraphs]


def _subgraphs_from_json(data: list[dict[str, Any]] | None) -> list[AssignedSubgraph] | None:
    if data is None:
        return None
    return [AssignedSubgraph(d["provider"], tuple((n[0], n[1]) for n in d["nodes"])) for d in data]


class _NothingCompiled(Exception):
    def __init__(self, session: LoadedSession) -> None:
        super().__init__("no EP context was written")
        self.session = session


def _compile(folder: Path, src: Path, proto: onnx.ModelProto, target: Target, fields: dict[str, Any], *,
             dims: Mapping[str, int] | None, threads: int | None, config: Mapping[str, str] | None) -> LoadedSession:
    """Compile ``src`` for the NPU into a staging folder and publish it as the cache entry ``folder``."""
    with staging_dir(folder) as staging:
        # embed mode 0: a small context model beside the QNN binary; it loads faster than one file holding
        # both (measured: 0.08 s vs 0.13 s for EfficientNet-Lite0 on the emulator)
        compile_config = {**(config or {}), "ep.context_enable": "1",
                          "ep.context_file_path": str(staging / CTX_NAME), "ep.context_embed_mode": "0"}
        try:
            loaded = create_session(src, target, dims=dims, threads=threads, config=compile_config, checked=proto)
        except OnnpuError as exc:
            full = room_for_writing(staging)  # ONNX Runtime words a full cache disk as a model it cannot load
            if full is not None:
                raise write_error(full, "compiled NPU context into the cache", staging.parent,
                                  hint="free some space, point ONNPU_CACHE_DIR at a disk with room, or run with "
                                  "--no-cache") from exc
            raise
        if not (staging / CTX_NAME).is_file():
            raise _NothingCompiled(loaded)
        meta = {"fields": fields, "model": str(src.resolve()), "created": time.time(),
                "files": {p.name: p.stat().st_size for p in sorted(staging.iterdir())},
                "subgraphs": _subgraphs_to_json(loaded.subgraphs)}
        atomic_write(staging / META_NAME, jsonio.dumps(meta, indent=1))
    return loaded


def _entry_problem(folder: Path, fields: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """Why the entry in ``folder`` cannot be used (stale or broken), or None; and its metadata."""
    try:
        meta = json.loads((folder / META_NAME).read_text())
        files = meta["files"]
        if not isinstance(files, dict):
            return "an older cache format", {}
    except (OSError, ValueError, KeyError, TypeError):
        return "unreadable metadata", {}
    if meta.get("fields") != fields:
        return "recorded for other versions or options", meta
    for name, size in files.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing", meta
        if path.stat().st_size != size:
            return f"{name} has {path.stat().st_size} bytes, {size} were written", meta
    return None, meta


def _load(folder: Path, meta: dict[str, Any], src: Path, proto: onnx.ModelProto, target: Target, *,
          dims: Mapping[str, int] | None, threads: int | None, config: Mapping[str, str] | None) -> LoadedSession:
    start = time.perf_counter()
    loaded = create_session(folder / CTX_NAME, target, dims=dims, threads=threads, config=config)
    loaded.create_seconds = time.perf_counter() - start
    loaded.proto, loaded.model_path = proto, src
    loaded.subgraphs = _subgraphs_from_json(meta.get("subgraphs"))
    return loaded


def cached_session(model: str | Path, target: Target, *, dims: Mapping[str, int] | None = None,
                   threads: int | None = None, config: Mapping[str, str] | None = None,
                   checked: onnx.ModelProto | None = None) -> tuple[LoadedSession, str]:
    """A session for ``model`` on a QNN target through the context cache.

    Returns the session and what happened: ``hit`` (loaded the cached context), ``built`` (compiled and
    cached it), ``rebuilt`` (a stale or broken entry was replaced) or ``off`` (nothing ran on the NPU, so
    there was no context to keep). Placement is the one recorded when the context was compiled (the
    context model itself shows a single EPContext node). ``checked`` as for ``create_session``.
    """
    src = Path(model)
    key, fields, proto = _key(src, target, dims, checked)
    folder = contexts_dir() / key
    with locked(lock_file("contexts", key)):
        sweep_leftovers(folder)  # what a killed process left: nobody else is building this entry now
        state = "built"
        if folder.exists():
            problem, meta = _entry_problem(folder, fields)
            if problem is None:
                try:
                    return _load(folder, meta, src, proto, target, dims=dims, threads=threads, config=config), "hit"
                except OnnpuError:  # the EP refused the context, or something unrelated went wrong: a fresh
                    pass            # compile tells which (it replaces the entry only if it succeeds)
            else:
                discard_dir(folder)
            state = "rebuilt"
        try:
            loaded = _compile(folder, src, proto, target, fields, dims=dims, threads=threads, config=config)
        except _NothingCompiled as nothing:  # the EP wrote no context (nothing ran on the NPU): nothing cached
            discard_dir(folder)
            return nothing.session, "off"
        return loaded, state


def list_entries() -> list[CacheEntry]:
    entries = []
    for folder in sorted(contexts_dir().iterdir()) if contexts_dir().is_dir() else []:
        if folder.name.startswith("."):  # a staging folder, or one being removed
            continue
        try:
            meta = json.loads((folder / META_NAME).read_text())
            size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
        except (OSError, ValueError):
            continue
        entries.append(CacheEntry(folder.name, folder, meta.get("model", "?"), meta["fields"].get("options", {}),
                                  float(meta.get("created", 0)), size))
    return entries


def clear() -> int:
    """Remove every cached context (each under its lock); returns how many were removed."""
    removed = 0
    folder = contexts_dir()
    for item in sorted(folder.iterdir()) if folder.is_dir() else []:
        key = item.name.lstrip(".").split(".")[0]
        with locked(lock_file("contexts", key)):
            if item.name == key and item.is_dir():
                discard_dir(item)
                removed += 1
            else:  # leftovers of a killed process
                sweep_leftovers(folder / key)
    return removed


def open_session(model: str | Path, target: Target, *, dims: Mapping[str, int] | None = None,
                 threads: int | None = None, cache: bool = True,
                 config: Mapping[str, str] | None = None) -> LoadedSession:
    """The session the verbs use: through the context cache on a QNN target (unless ``cache`` is off). A
    compiled model (or an ``onnpu compile`` folder) is checked against the target and loaded as it is."""
    if not target.is_qnn:
        return create_session(model, target, dims=dims, threads=threads, config=config)
    from onnpu.runtime.compiled import model_for_target  # compiled models exist only for the NPU

    path, proto, compiled = model_for_target(model, target)
    if compiled is None and cache:
        return cached_session(path, target, dims=dims, threads=threads, config=config, checked=proto)[0]
    return create_session(path, target, dims=dims, threads=threads, config=config, checked=proto)
