"""Where onnpu keeps what it builds and downloads."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from platformdirs import user_cache_dir


def cache_dir() -> Path:
    """onnpu's cache (``ONNPU_CACHE_DIR`` overrides the platform's user cache dir)."""
    return Path(os.environ.get("ONNPU_CACHE_DIR") or user_cache_dir("onnpu"))


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
