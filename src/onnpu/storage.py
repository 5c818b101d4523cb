"""The one file-safety layer: every file onnpu writes goes through here.

A file is written to a temporary file in its destination folder, flushed to disk (fsync), then renamed over
the destination, so a reader sees the old file or the new one, never a half-written one. Folders (cache
entries, built models) are assembled in a staging folder beside their destination and renamed into place.
New files get the user's umask (``tempfile`` would make them 0600). Hashing and locks live here too."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    with _UMASK_LOCK:  # os.umask can only be read by setting it
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def default_mode() -> int:
    """The permission bits a new file gets from ``open()``: 0o666 minus the user's umask."""
    return 0o666 & ~_umask()


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def new_temp(path: str | Path, suffix: str = ".tmp") -> Path:
    """A new, empty temporary file in ``path``'s folder (hidden, named after ``path``)."""
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=parent)
    os.close(fd)
    return Path(name)


def commit(tmp: Path, target: str | Path) -> None:
    """Publish a finished temporary file: the user's permissions, flushed to disk, renamed over ``target``."""
    os.chmod(tmp, default_mode())
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, target)
    fsync_dir(Path(target).parent if str(Path(target).parent) else Path("."))


@contextlib.contextmanager
def temporary_beside(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path in ``path``'s folder, renamed over ``path`` when the block succeeds and removed
    when it fails. For writers that take a path (``onnx.save``, ``np.savez``): write the temporary path."""
    tmp = new_temp(path, suffix)
    try:
        yield tmp
        commit(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_output(path: str | Path, mode: str = "wb", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; it replaces ``path`` only if the block succeeds."""
    with temporary_beside(path) as tmp, open(tmp, mode, **kwargs) as f:
        yield f
        f.flush()


def atomic_write(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` atomically (text as UTF-8)."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_output(path, "wb") as f:
        f.write(payload)
    return Path(path)


@contextlib.contextmanager
def staging_dir(final: str | Path) -> Iterator[Path]:
    """A fresh folder beside ``final`` to assemble a whole entry in; when the block succeeds it replaces
    ``final`` (a stale entry is removed first), when it fails it is removed."""
    dest = Path(final)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".staging", dir=dest.parent))
    try:
        yield staging
        os.chmod(staging, 0o777 & ~_umask())
        for item in staging.iterdir():
            if item.is_file():
                os.chmod(item, default_mode())
        publish_dir(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def publish_dir(staging: Path, dest: Path) -> None:
    """Move a finished staging folder to ``dest``, replacing what was there."""
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old.{os.getpid()}.{threading.get_ident()}")
        os.replace(dest, old)
        os.replace(staging, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, dest)
    fsync_dir(dest.parent)


def sha256_file(path: str | Path, into: Any | None = None) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks; with ``into`` the bytes are fed to that hash instead."""
    h = into if into is not None else hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return str(h.hexdigest())
