"""Where onnpu keeps what it builds and downloads."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from platformdirs import user_cache_dir


def cache_dir() -> Path:
    """onnpu's cache (``ONNPU_CACHE_DIR`` overrides the platform's user cache dir)."""
    return Path(os.environ.get("ONNPU_CACHE_DIR") or user_cache_dir("onnpu"))


_READY: set[Path] = set()


def cache_area(name: str) -> Path:
    """A folder of onnpu's cache (``contexts``, ``downloads``, ``zoo``, ``locks``), created and proven
    writable once per process; a cache that cannot be written is one clear error with the way out."""
    folder = cache_dir() / name
    if folder in _READY:
        return folder
    from onnpu.errors import OutputError

    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".onnpu-", suffix=".probe", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"onnpu's cache folder {folder} cannot be written ({exc.strerror or exc})",
                          hint="point ONNPU_CACHE_DIR at a writable folder, e.g. "
                          "`export ONNPU_CACHE_DIR=/tmp/onnpu-cache`") from None
    _READY.add(folder)
    return folder


def lock_file(area: str, key: str) -> Path:
    """The lock file guarding one entry of a shared cache area (``contexts``, ``downloads``, ``zoo``).

    Lock files live apart from what they guard and are never removed (not even by ``onnpu cache clear``):
    a lock file deleted while a process waits on it would let two processes hold "the" lock at once."""
    plain = key.isascii() and key.replace("-", "").replace("_", "").isalnum() and len(key) <= 64
    safe = key if plain else hashlib.sha256(key.encode()).hexdigest()[:32]
    return cache_area("locks") / f"{area}-{safe}.lock"
