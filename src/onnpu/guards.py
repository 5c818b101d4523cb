"""Guards at the edges of the file system: what onnpu will write to and what it will read from.

* An output is never written through a symbolic link, never onto a FIFO, device, socket or folder, and never
  onto one of the command's own inputs (the model, its external data, labels, calibration files, images) —
  compared by resolved path and by inode, so a second name for the same file (a hard link) is caught too.
* Inputs are opened only when they are regular files (after links are resolved): a FIFO, device or socket
  is refused by name, and opening one never blocks.
* A write that fails because the disk (or the user's quota, or the file-size limit) is full says so, with the
  path and the free space left.
* ``exclusive_output`` lets one process at a time write a streamed output (results files): a second writer,
  ``--resume`` or not, is refused instead of interleaving rows."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from onnpu.errors import InputDataError, OnnpuError, OutputError

__all__ = ["check_destination", "disk_full", "exclusive_output", "file_kind", "free_space", "open_regular",
           "read_regular", "room_for_writing", "same_file", "write_error", "write_files"]

PathLike = str | os.PathLike[str]

_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def printable(text: str, keep: str = "") -> str:
    """``text`` with its control characters (C0 and C1: ESC, BEL, CSI, carriage return, …) shown as ``?``, those
    in ``keep`` excepted: names read from a model or a labels file reach the terminal, and an escape sequence
    there would rewrite it (the title, the screen, a link)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in keep else "?" for c in text)


def file_kind(mode: int) -> str:
    """A file's type in words ("a FIFO", "a folder", …) from its ``st_mode``."""
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether two paths name one file: the same resolved path, or the same device and inode."""
    pa, pb = Path(a), Path(b)
    try:
        if pa.resolve() == pb.resolve():
            return True
    except (OSError, RuntimeError):
        pass
    try:
        return os.path.samestat(os.stat(pa), os.stat(pb))
    except (OSError, ValueError):
        return False


def check_destination(path: PathLike, *, inputs: Iterable[PathLike] = (), what: str = "output",
                      flag: str = "-o", folder: bool = False) -> Path:
    """Refuse, before any work, an output path onnpu must not write: a symbolic link (onnpu never writes
    through one), an existing special file or (unless ``folder``) folder, or one of ``inputs``."""
    target = Path(path)
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise OutputError(f"{target}: cannot use this {what} path ({exc.strerror})",
                          hint=f"choose another {flag} path") from exc
    if info is not None:
        if stat.S_ISLNK(info.st_mode):
            raise OutputError(f"{target}: is a symbolic link; onnpu never writes through links",
                              hint=f"remove the link or choose another {flag} path")
        wanted = stat.S_ISDIR(info.st_mode) if folder else stat.S_ISREG(info.st_mode)
        if not wanted:
            raise OutputError(f"{target}: is {file_kind(info.st_mode)}, not a {'folder' if folder else 'file'} "
                              f"onnpu can write the {what} to", hint=f"choose another {flag} path")
    for src in inputs if info is not None else ():  # a path that does not exist is no input
        if same_file(src, target):
            raise OutputError(f"{target}: is also an input of this command ({src}); writing the {what} there "
                              "would destroy it", hint=f"choose another {flag} path")
    return target


def open_regular(path: PathLike, what: str = "file", error: type[OnnpuError] = InputDataError) -> IO[bytes]:
    """Open an input for reading, refusing anything but a regular file (after links are resolved). A FIFO
    is opened non-blocking, so refusing it never waits for a writer."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError as exc:
        raise error(f"{p}: {what} not found", hint="check the path") from exc
    except IsADirectoryError as exc:
        raise error(f"{p}: is a folder, not a {what}", hint=f"pass the {what} itself") from exc
    except OSError as exc:
        raise error(f"{p}: cannot open the {what} ({exc.strerror})", hint="check the path and its permissions") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            article = "an" if what[:1].lower() in "aeiou" else "a"
            raise error(f"{p}: is {file_kind(info.st_mode)}, not a regular file; onnpu reads {article} {what} only "
                        "from regular files", hint=f"copy the {what} to a file first")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: PathLike, what: str = "file", limit: int | None = None,
                 error: type[OnnpuError] = InputDataError) -> bytes:
    """The bytes of a regular file (``open_regular``); with ``limit``, larger files are refused unread."""
    with open_regular(path, what, error) as f:
        size = os.fstat(f.fileno()).st_size
        if limit is not None and size > limit:
            raise error(f"{path}: the {what} is {size / 1e6:.1f} MB, more than onnpu reads for a {what} "
                        f"({limit / 1e6:.0f} MB)", hint=f"check that this is the right {what}")
        return f.read() if limit is None else f.read(limit + 1)


def free_space(path: PathLike) -> int | None:
    """Bytes free for this user in ``path``'s file system (the nearest existing folder), or None."""
    p = Path(path)
    for candidate in (p, *p.parents):
        if candidate.exists():
            try:
                return shutil.disk_usage(candidate).free
            except OSError:
                return None
    return None


def disk_full(exc: BaseException) -> bool:
    """Whether an error means the disk, quota or file-size limit is full."""
    return isinstance(exc, OSError) and exc.errno in _FULL


def _folder(path: Path) -> Path:
    return path if path.is_dir() else (path.parent if str(path.parent) else Path("."))


def room_for_writing(folder: PathLike, probe: int = 1 << 16) -> OSError | None:
    """The error a write of ``probe`` bytes in ``folder`` meets when the disk, quota or file-size limit is
    full, else None: asked after a library failed in its own words (an ONNX Runtime "cannot write" can be a
    full disk)."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=folder) as f:
            f.write(b"\0" * probe)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        return exc if disk_full(exc) else None
    return None


def write_error(exc: OSError, what: str, path: PathLike, hint: str | None = None) -> OutputError:
    """The one-line error for a failed write: disk full says disk full, with the path and the free space."""
    p = Path(path)
    if exc.errno == errno.EFBIG:
        return OutputError(f"cannot write the {what}: file too large for this file system or the file-size limit "
                           f"({p})", hint="free space or raise the limit (ulimit -f), or write elsewhere")
    if exc.errno in _FULL:
        folder = _folder(p)
        free = free_space(folder)
        left = f"; {free / 1e6:.0f} MB free in {folder}" if free is not None else ""
        return OutputError(f"cannot write the {what}: disk full ({p}{left})",
                           hint=hint or "free some space, or write to another disk")
    return OutputError(f"cannot write the {what} ({p}: {exc.strerror or exc})",
                       hint=hint or "check the folder's permissions and free space")


@contextlib.contextmanager
def exclusive_output(path: PathLike, what: str = "output") -> Iterator[None]:
    """Hold onnpu's lock on an output path for the block; another onnpu process already writing it is
    refused at once (the lock lives in onnpu's cache, keyed by the resolved path; nothing is written beside
    the output)."""
    from onnpu.paths import lock_file
    from onnpu.storage import LockTimeout, locked

    key = str(Path(path).resolve())
    hold = locked(lock_file("outputs", key), timeout=0)
    try:
        hold.__enter__()
    except LockTimeout:
        raise OutputError(f"{path}: another onnpu process is writing this {what} now",
                          hint="wait for it to finish, or write to another -o") from None
    try:
        yield
    finally:
        hold.__exit__(None, None, None)


def write_files(folder: PathLike, files: dict[str, bytes], what: str = "report", flag: str = "--report") -> list[Path]:
    """Write a set of files into ``folder`` all or nothing: a new folder is assembled beside it and renamed
    into place; in an existing folder every file is written to a temporary file first and only then renamed
    over its name. Interrupted or out of space, nothing new is left behind (and no half-made folder)."""
    import tempfile

    from onnpu.storage import commit, fsync_dir, new_temp

    dest = check_destination(folder, what=what, flag=flag, folder=True)
    parent = dest.parent if str(dest.parent) else Path(".")
    try:
        if not parent.is_dir():
            parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists():
            staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".staging", dir=parent))
            try:
                for name, content in files.items():
                    tmp = new_temp(staging / name)
                    tmp.write_bytes(content)
                    commit(tmp, staging / name)
                os.chmod(staging, 0o777 & ~_umask())
                os.rename(staging, dest)
                fsync_dir(parent)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        else:
            temps: dict[str, Path] = {}
            try:
                for name, content in files.items():
                    temps[name] = new_temp(dest / name)
                    temps[name].write_bytes(content)
                for name, tmp in temps.items():
                    commit(tmp, dest / name)
            finally:
                for tmp in temps.values():
                    tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise write_error(exc, what, dest, hint=f"free some space, or choose another {flag} folder") from exc
    return [dest / name for name in files]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
