"""Where onnpu keeps what it builds and downloads."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from platformdirs import user_cache_dir


def cache_dir() -> Path:
    """onnpu's cache (``ONNPU_CACHE_DIR`` overrides the platform's user cache dir)."""
    return Path(os.environ.get("ONNPU_CACHE_DIR") or user_cache_dir("onnpu"))


def lock_file(area: str, key: str) -> Path:
    """The lock file guarding one entry of a shared cache area (``contexts``, ``downloads``, ``zoo``).

    Lock files live apart from what they guard and are never removed (not even by ``onnpu cache clear``):
    a lock file deleted while a process waits on it would let two processes hold "the" lock at once."""
    plain = key.isascii() and key.replace("-", "").replace("_", "").isalnum() and len(key) <= 64
    safe = key if plain else hashlib.sha256(key.encode()).hexdigest()[:32]
    return cache_dir() / "locks" / f"{area}-{safe}.lock"
