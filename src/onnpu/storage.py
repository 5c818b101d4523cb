"""The one file-safety layer: every file onnpu writes goes through here.

A file is written to a temporary file in its destination folder, flushed to disk (fsync), then renamed over
the destination, so a reader sees the old file or the new one, never a half-written one. Folders (cache
entries, built models) are assembled in a staging folder beside their destination and renamed into place.
New files get the user's umask (``tempfile`` would make them 0600). Shared caches are guarded by ``locked``
(``filelock``: one lock per entry, safe across processes and across threads). Hashing lives here too."""

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

from filelock import FileLock
from filelock import Timeout as LockTimeout

__all__ = ["LockTimeout", "atomic_output", "atomic_write", "commit", "copy_file", "default_mode",
           "discard_dir", "locked", "new_temp", "probe_writable", "publish_dir", "scratch_dir", "sha256_file",
           "staging_dir", "sweep_leftovers", "temporary_beside"]

_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    try:  # Linux says it without changing it (setting it would race with other threads creating files)
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:  # elsewhere os.umask can only be read by setting it
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
    """Write ``data`` to ``path`` atomically (text as UTF-8; a file name that is not UTF-8, held by Python as
    surrogate escapes, is written as its ``\\udcff`` escape, which JSON reads back as the same name)."""
    payload = data.encode("utf-8", "backslashreplace") if isinstance(data, str) else data
    with atomic_output(path, "wb") as f:
        f.write(payload)
    return Path(path)


@contextlib.contextmanager
def staging_dir(final: str | Path) -> Iterator[Path]:
    """A fresh folder beside ``final`` to assemble a whole entry in; when the block succeeds it replaces
    ``final`` (a stale entry is removed first), when it fails it is removed. Callers that share ``final``
    with other processes hold its lock (``locked``) around the block."""
    dest = Path(final)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".staging", dir=dest.parent))
    try:
        yield staging
        _apply_umask(staging)
        for root, _, files in os.walk(staging):
            for name in files:
                with open(Path(root) / name, "rb+") as f:
                    os.fsync(f.fileno())
        publish_dir(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _apply_umask(folder: Path) -> None:
    """Folders made by ``mkdtemp`` and files by ``mkstemp`` are private (0700 / 0600): give them the
    permissions ``mkdir`` / ``open`` would have."""
    os.chmod(folder, 0o777 & ~_umask())
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(Path(root) / name, 0o777 & ~_umask())
        for name in files:
            os.chmod(Path(root) / name, default_mode())


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


def discard_dir(folder: str | Path) -> None:
    """Remove a folder so that nobody sees it half-deleted: renamed away first, then deleted."""
    path = Path(folder)
    if not path.exists():
        return
    gone = path.with_name(f".{path.name}.old.{os.getpid()}.{threading.get_ident()}")
    os.replace(path, gone)
    shutil.rmtree(gone, ignore_errors=True)


def sweep_leftovers(dest: str | Path) -> None:
    """Remove what a killed process left beside ``dest`` (staging folders, renamed-away entries, temporary
    files). Only safe while holding ``dest``'s lock: then nobody else is assembling ``dest``."""
    path = Path(dest)
    if not path.parent.is_dir():
        return
    for item in path.parent.glob(f".{glob_escape(path.name)}.*"):
        if item.name.endswith((".staging", ".tmp")) or ".old." in item.name:
            if item.is_dir() and not item.is_symlink():
                shutil.rmtree(item, ignore_errors=True)
            else:
                item.unlink(missing_ok=True)


def glob_escape(name: str) -> str:
    """``name`` with glob metacharacters made literal."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


@contextlib.contextmanager
def locked(lock_file: str | Path, timeout: float = -1) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_file`` (created if needed) for the block: across processes
    (``flock``) and across threads of this process (every call takes its own lock; filelock's locks are
    per thread). The lock file stays in place, so every waiter locks the same file; it is never deleted.
    ``timeout`` < 0 waits as long as it takes (a dead holder's lock is released by the kernel)."""
    path = Path(lock_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path, timeout=timeout):
        yield


def copy_file(src: str | Path, dest: str | Path) -> Path:
    """Copy ``src`` to ``dest`` atomically (temporary file beside ``dest``, fsync, rename)."""
    with temporary_beside(dest) as tmp:
        shutil.copyfile(src, tmp)
    return Path(dest)


def probe_writable(folder: str | Path) -> None:
    """Raise ``OSError`` when no file can be created in ``folder`` (``os.access`` says yes to root even in
    read-only places: this really creates and removes a temporary file)."""
    fd, name = tempfile.mkstemp(prefix=".onnpu-", suffix=".probe", dir=folder)
    os.close(fd)
    os.unlink(name)


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A private working folder (in the system's temporary folder) removed when the block ends, also when
    it ends by an error or Ctrl-C. For intermediate files no user ever reads."""
    with tempfile.TemporaryDirectory(prefix=prefix, ignore_cleanup_errors=True) as tmp:
        yield Path(tmp)


def sha256_file(path: str | Path, into: Any | None = None) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks; with ``into`` the bytes are fed to that hash instead."""
    h = into if into is not None else hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return str(h.hexdigest())


def output_dir(folder: str | Path, what: str = "output", flag: str = "-o") -> Path:
    """Create the folder a verb writes into (parents too), or say in one line why it cannot be."""
    from onnpu.errors import OutputError

    out = Path(folder)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the {what} folder ({exc.strerror})",
                          hint=f"choose a writable folder with {flag}") from exc
    return out
