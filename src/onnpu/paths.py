"""Where onnpu keeps what it builds and downloads."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir


def cache_dir() -> Path:
    """onnpu's cache (``ONNPU_CACHE_DIR`` overrides the platform's user cache dir)."""
    return Path(os.environ.get("ONNPU_CACHE_DIR") or user_cache_dir("onnpu"))
