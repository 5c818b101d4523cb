"""A compiled folder (``onnpu compile … -o DIR``) and its manifest: what it holds and the proof that it is what
was compiled, checked on every load.

The manifest lists, per SoC, every file with its SHA-256 and size, what the context binary says it was compiled
for, and the fingerprint of the source model. Loading a file of the folder checks, in this order: the file
(and its external binaries) against the manifest — missing, truncated or changed files are refused, each
naming the file and the command that rebuilds it; the context's own records (the SoC name and HTP arch that QNN
wrote into the binary) against its editable compatibility string and the manifest; the source model, when it
is still where it was compiled from, against its fingerprint (a changed source means: recompile). The
file checks are remembered in onnpu's cache by path, size and modification time of every file involved, so a
second load of an unchanged folder costs a few ``stat`` calls. Imports neither onnx nor onnxruntime."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onnpu.errors import ModelError, TargetError
from onnpu.runtime.compat import compatibility
from onnpu.storage import atomic_write, sha256_file

if TYPE_CHECKING:
    from onnpu.model.proto import ModelProto

MANIFEST = "manifest.json"
SCHEMA = "onnpu.compile/2"
_RECORD = re.compile(rb"soc_type=([A-Za-z0-9_]+);arch=(\d+)")

__all__ = [
    "MANIFEST",
    "SCHEMA",
    "Manifest",
    "check_context_file",
    "context_records",
    "file_record",
    "load_manifest",
    "manifest_beside",
    "rebuild_hint",
    "source_record",
    "verify_file",
    "verify_records",
]


def file_record(path: Path) -> dict[str, Any]:
    """A file as the manifest records it."""
    return {"sha256": sha256_file(path), "size": path.stat().st_size}


def source_record(path: Path) -> dict[str, Any]:
    """The source model's fingerprint: where it was, its SHA-256, size and modification time (a quick test
    that it is unchanged)."""
    st = path.stat()
    return {"path": str(path.resolve()), "sha256": sha256_file(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


@dataclass(frozen=True)
class Manifest:
    path: Path
    data: Mapping[str, Any]

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def entries(self) -> list[dict[str, Any]]:
        return list(self.data.get("entries", []))

    @property
    def source_path(self) -> str:
        return str(self.data.get("source", {}).get("path") or "SOURCE.onnx")

    def entry_for_file(self, name: str) -> dict[str, Any] | None:
        return next((e for e in self.entries if e.get("file") == name), None)

    def pick(self, soc_model: int) -> dict[str, Any] | None:
        """The entry compiled for this ``soc_model``: one compiled for that SoC alone, else a multi-SoC one."""
        single = [e for e in self.entries if e.get("soc_models") == [soc_model]]
        multi = [e for e in self.entries if soc_model in e.get("soc_models", [])]
        return (single or multi or [None])[0]  # type: ignore[list-item]


def rebuild_hint(manifest: Manifest | None, entry: Mapping[str, Any] | None = None) -> str:
    """The command that writes the folder (or this entry) again."""
    source = manifest.source_path if manifest else "SOURCE.onnx"
    folder = manifest.folder if manifest else "DIR"
    socs = ",".join(str(s).lower() for s in str((entry or {}).get("soc", "")).split(" + ") if s) or "SOC"
    multi = " --multi-soc" if entry and len(entry.get("soc_models", [])) > 1 else ""
    return f"rebuild it: `onnpu compile {source} --soc {socs}{multi} -o {folder}`"


def load_manifest(path: Path) -> Manifest:
    """A compile folder's manifest (``path`` is the folder or the file), read and checked for its schema."""
    file = path / MANIFEST if path.is_dir() else path
    if not file.is_file():
        raise ModelError(f"{path}: is a folder, not an ONNX file (and holds no onnpu compile manifest)",
                         hint="pass the .onnx file inside it, or a folder written by `onnpu compile`")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ModelError(f"{file}: not a readable onnpu compile manifest ({exc})",
                         hint="rebuild the folder with `onnpu compile SOURCE.onnx --soc SOC -o DIR`") from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("entries"), list):
        schema = data.get("schema") if isinstance(data, dict) else None
        raise ModelError(f"{file}: not an onnpu compile manifest this onnpu reads (schema {schema!r}, "
                         f"expected {SCHEMA!r})", hint=rebuild_hint(Manifest(file, data if isinstance(data, dict)
                                                                                     else {})))
    return Manifest(file, data)


def manifest_beside(path: Path) -> Manifest | None:
    """The manifest of the compile folder ``path`` (a compiled model file) belongs to, if it lists it."""
    file = path.parent / MANIFEST
    try:
        data = json.loads(file.read_text(encoding="utf-8")) if file.is_file() else None
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not str(data.get("schema", "")).startswith("onnpu.compile/"):
        return None  # another tool's manifest.json (onnpu's model zoo writes one)
    manifest = load_manifest(file)
    return manifest if manifest.entry_for_file(path.name) is not None else None


# ---- the context's own records ---------------------------------------------------------------------------------

def _attr(node: Any, name: str) -> Any:
    for a in node.attribute:
        if a.name == name:
            return a.s if a.type == a.STRING else a.i
    return None


def context_records(path: Path, model: ModelProto) -> tuple[list[tuple[str, int]], list[str], bool, int | None]:
    """(SoC name, HTP arch) records QNN wrote into the model's context binaries, the external binary files
    (embed mode 0), whether it is a multi-SoC context, and its embed mode."""
    found: list[tuple[str, int]] = []
    binaries: list[str] = []
    multi, embed = False, None
    for node in model.graph.node:
        if node.op_type != "EPContext":
            continue
        embed = int(_attr(node, "embed_mode") if _attr(node, "embed_mode") is not None else 1)
        multi = multi or bool(_attr(node, "is_multi_soc_ep_context") or 0)
        data = _attr(node, "ep_cache_context") or b""
        if embed == 0 and data:
            binaries.append(data.decode())
            binary = path.parent / data.decode()
            data = binary.read_bytes() if binary.is_file() else b""
        for name, arch in _RECORD.findall(data):
            if (name.decode(), int(arch)) not in found:
                found.append((name.decode(), int(arch)))
    return found, binaries, multi, embed


def _soc_models_named(name: str) -> set[int]:
    from onnpu.runtime.socs import SOCS, qnn_soc_models

    ids = {m for m, s in qnn_soc_models().items() if s.name == name}
    return ids | {s.soc_model for s in SOCS if s.name == name}


def verify_records(path: Path, records: Iterable[tuple[str, int]], soc_models: Iterable[int],
                   manifest: Manifest | None = None, entry: Mapping[str, Any] | None = None) -> None:
    """The binary's records must agree with the compatibility string's ``soc_model``s (which anyone can edit)
    and with the manifest entry: the records are what QNN will run."""
    records, claimed = list(records), sorted(set(soc_models))
    if not records:
        return  # nothing QNN wrote that onnpu can read (another QNN's format): the compatibility string stands
    named = [(name, arch, _soc_models_named(name)) for name, arch in records]
    said = ", ".join(f"{n} (HTP v{a})" for n, a in records)
    stray = [m for m in claimed if not any(m in ids for _, _, ids in named)]
    if stray:
        raise TargetError(f"{path}: its metadata says soc_model {','.join(map(str, stray))}, but its context binary "
                          f"was compiled for {said}: the metadata was changed after compiling",
                          hint=rebuild_hint(manifest, entry))
    if entry is not None:
        archs = sorted(set(entry.get("htp_arch", [])))
        if archs and sorted({a for _, a in records}) != archs:
            raise TargetError(f"{path}: its context binary was compiled for {said}; the manifest says HTP "
                              f"v{', v'.join(map(str, archs))}", hint=rebuild_hint(manifest, entry))


# ---- the files against the manifest -----------------------------------------------------------------------------

RACY_SECONDS = 2.0


def _stamp(paths: Iterable[Path]) -> str | None:
    """A key for this exact state of these files (path, inode, size, mtime), or None when one is missing or was
    modified in the last seconds: a change within the file system's timestamp granularity could leave the mtime
    as it was, so such a state is not remembered (git's "racily clean" rule); the inode change time is part of the
    key, so touching a file back to an old mtime does not hide a change."""
    parts = []
    recent = time.time_ns() - int(RACY_SECONDS * 1e9)
    for p in paths:
        try:
            st = p.stat()
        except OSError:
            return None
        if st.st_mtime_ns > recent:
            return None
        parts.append(f"{p.resolve()}|{st.st_ino}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _verified_marker(key: str) -> Path | None:
    try:
        from onnpu.paths import cache_area

        return cache_area("verified") / f"{key}.ok"
    except Exception:  # an unwritable cache only costs the cache
        return None


def _check_files(manifest: Manifest, entry: Mapping[str, Any]) -> None:
    files = entry.get("files")
    if not isinstance(files, dict) or not files:
        raise ModelError(f"{manifest.path}: the entry for {entry.get('file', '?')} lists no files",
                         hint=rebuild_hint(manifest, entry))
    for name, want in files.items():
        path = manifest.folder / name
        if Path(name).name != name:
            raise ModelError(f"{manifest.path}: lists {name!r}, a file outside its folder",
                             hint=rebuild_hint(manifest, entry))
        if not path.is_file():
            raise ModelError(f"{path}: missing from the compiled folder (manifest.json lists it)",
                             hint=rebuild_hint(manifest, entry))
        size = path.stat().st_size
        if size != want.get("size"):
            raise ModelError(f"{path}: has {size} bytes, the manifest says {want.get('size')} (truncated or "
                             "replaced after compiling)", hint=rebuild_hint(manifest, entry))
        if sha256_file(path) != want.get("sha256"):
            raise ModelError(f"{path}: its SHA-256 is not the one in manifest.json (the file or the manifest "
                             "changed after compiling)", hint=rebuild_hint(manifest, entry))


def _check_source(manifest: Manifest, entry: Mapping[str, Any]) -> None:
    source = manifest.data.get("source", {})
    path = Path(str(source.get("path", "")))
    if not source.get("path") or not path.is_file():
        return  # a folder copied to a board travels without its source
    st = path.stat()
    if st.st_size == source.get("size") and st.st_mtime_ns == source.get("mtime_ns"):
        return
    if st.st_size != source.get("size") or sha256_file(path) != source.get("sha256"):
        raise ModelError(f"recompile: {path} changed after {manifest.folder} was compiled from it",
                         hint=rebuild_hint(manifest, entry))


def verify_file(path: Path, manifest: Manifest) -> dict[str, Any]:
    """Check the compiled model ``path`` and its binaries against ``manifest`` (cached by path, size and mtime),
    and the source model against its fingerprint. Returns the file's manifest entry."""
    entry = manifest.entry_for_file(path.name)
    if entry is None:
        raise ModelError(f"{path}: not listed in {manifest.path}", hint=rebuild_hint(manifest))
    _check_source(manifest, entry)
    files = [manifest.path, *(manifest.folder / n for n in entry.get("files", {}))]
    key = _stamp(files)
    marker = _verified_marker(key) if key else None
    if marker is not None and marker.is_file():
        return entry
    _check_files(manifest, entry)
    if marker is not None:
        with contextlib.suppress(OSError):
            atomic_write(marker, path.name)
    return entry


def check_context_file(path: Path, model: ModelProto, records: list[tuple[str, int]], manifest: Manifest | None,
                       entry: Mapping[str, Any] | None) -> None:
    """The context's records (``context_records``) against its compatibility string and manifest entry."""
    from onnpu.model.files import metadata

    parsed = compatibility(metadata(model))
    claimed = list(parsed.soc_models) if parsed else []
    if entry is not None:
        listed = [int(m) for m in entry.get("soc_models", [])]
        if claimed and sorted(claimed) != sorted(listed):
            raise TargetError(f"{path}: its metadata says soc_model {','.join(map(str, claimed))}, the manifest "
                              f"{','.join(map(str, listed))}", hint=rebuild_hint(manifest, entry))
        claimed = sorted(set(claimed) | set(listed))
    verify_records(path, records, claimed, manifest, entry)
