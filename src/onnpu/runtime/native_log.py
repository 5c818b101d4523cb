"""What native libraries (ONNX Runtime, QNN) write to the process's file descriptors 1 and 2, kept out of
onnpu's own output: captured at the file-descriptor level, parsed where it carries information (the QNN EP's
reasons for refusing nodes) and sent to the log (logger ``onnpu.native``; ``onnpu -v`` shows it on stderr).

Two mechanisms, one for each scope:

- ``capture_native()`` around one native call (session creation): fd 1 and fd 2 go to temporary files
  for the duration; the text is parsed and logged afterwards. The library uses it, so that
  ``onnpu.create_session`` never writes into a program's stdout.
- ``native_output_redirected()`` for the life of a command: fd 1 (and fd 2) point at a sink for the whole
  process, while Python's ``sys.stdout`` / ``sys.stderr`` write to private duplicates of the real ones. The
  CLI uses it, so that what the QNN libraries print while models run and sessions are released never lands
  in ``--json``, CSV or JSONL output. It costs nothing per inference (a per-call redirection would).

This module imports only the standard library: the CLI uses it before anything heavy is loaded.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, TextIO

LOG = logging.getLogger("onnpu.native")

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_UNSUPPORTED = re.compile(r"\{ name: ([^,]*), type: ([^ ]+) \}")
_FAILED = re.compile(r"Validation FAILED for \d+ nodes in OrtNodeUnit \(([^)]*)\)")
_NODE = re.compile(r"Operator type: (\S+) Node name: (.*?) Node index")
_REASON = re.compile(r"REASON : (.*)$")


@dataclass
class CapturedLog:
    """What native code wrote during a captured call: ``text`` / ``lines`` from fd 2 (ONNX Runtime's log,
    parsed below), ``stdout`` from fd 1 (QNN's messages, e.g. ``# LIBNATIVE: ...``)."""

    text: str = ""
    lines: list[str] = field(default_factory=list)
    stdout: str = ""

    def unsupported_nodes(self) -> list[tuple[str, str]]:
        """(name, op type) of the nodes the QNN EP listed as unsupported."""
        found: list[tuple[str, str]] = []
        for line in self.lines:
            if "Unsupported nodes in QNN EP" in line:
                for name, op in _UNSUPPORTED.findall(line):
                    if (name, op) not in found:
                        found.append((name, op))
        return found

    def first(self, *needles: str) -> str | None:
        """The first captured line (fd 2, then fd 1) containing any of ``needles``."""
        for line in [*self.lines, *self.stdout.splitlines()]:
            if any(n in line for n in needles):
                return line
        return None

    def refusal_reasons(self) -> dict[str, str]:
        """Model node name → the QNN EP's reason for refusing it (``LogNodeSupport`` lines of the verbose
        log, session log level 0)."""
        from onnpu.runtime.placement import original_name

        reasons: dict[str, str] = {}
        pending: list[str] = []
        in_failed = False
        for line in self.lines:
            if _FAILED.search(line):
                in_failed, pending = True, []
                continue
            if not in_failed:
                continue
            node = _NODE.search(line)
            if node:
                pending.append(original_name(node.group(2).strip()))
                continue
            reason = _REASON.search(line)
            if reason:
                for name in pending:
                    reasons.setdefault(name, reason.group(1).strip())
                in_failed, pending = False, []
        return reasons


def _flush_c_stdio() -> None:
    """Flush the C library's stdio buffers, so that text native code printed with ``printf`` lands in the
    file descriptor it was meant for before that descriptor is pointed elsewhere."""
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):  # no C library handle on this platform (Windows)
        pass


def _flush(stream: TextIO | None) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        if stream is not None:
            stream.flush()


def _log_text(source: str, text: str) -> None:
    if text.strip() and LOG.isEnabledFor(logging.DEBUG):
        for line in text.splitlines():
            if line.strip():
                LOG.debug("%s: %s", source, line)


@dataclass
class _Redirection:
    """fd 1 and fd 2 pointed at temporary files, shared by the captures in progress (threads may open sessions
    at once: each redirecting on its own would restore another's temporary file as stdout)."""

    saved_out: int
    saved_err: int
    out: IO[bytes]
    err: IO[bytes]
    users: int = 0


_REDIRECTION_LOCK = threading.Lock()
_redirection: _Redirection | None = None


def _read_from(f: IO[bytes], start: int) -> str:
    f.flush()
    size = os.fstat(f.fileno()).st_size
    return _ANSI.sub("", os.pread(f.fileno(), max(size - start, 0), start).decode("utf-8", "replace"))


def _redirect() -> _Redirection:
    """fd 1 and fd 2 pointed at new temporary files; on any failure, everything it made is undone."""
    _flush(sys.stdout)
    _flush(sys.stderr)
    _flush_c_stdio()
    made: list[int] = []
    # closed by the last capture to end, which may be on another thread: no `with` can hold them
    out = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115
    err = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115
    try:
        made.append(os.dup(1))
        made.append(os.dup(2))
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
    except OSError:
        for fd, saved in zip((1, 2), made, strict=False):
            with contextlib.suppress(OSError):
                os.dup2(saved, fd)
        for saved in made:
            os.close(saved)
        out.close()
        err.close()
        raise
    return _Redirection(made[0], made[1], out, err)


def _restore(shared: _Redirection) -> None:
    try:
        os.dup2(shared.saved_out, 1)
        os.dup2(shared.saved_err, 2)
    finally:
        os.close(shared.saved_out)
        os.close(shared.saved_err)
        shared.out.close()
        shared.err.close()


@contextlib.contextmanager
def capture_native() -> Iterator[CapturedLog]:
    """Redirect fd 1 and fd 2 to temporary files for the duration; the captured text is available
    afterwards, and logged to ``onnpu.native``. Captures may overlap (sessions opened on several threads): they
    share one redirection, set up by the first and undone by the last, so fd 1 and fd 2 always come back; each
    capture's text is all native code wrote while it was open — its own call's, and any other thread's native
    output of that time."""
    global _redirection
    log = CapturedLog()
    with _REDIRECTION_LOCK:
        if _redirection is None:
            _redirection = _redirect()
        shared = _redirection
        shared.users += 1
        _flush_c_stdio()
        starts = os.fstat(shared.out.fileno()).st_size, os.fstat(shared.err.fileno()).st_size
    try:
        yield log
    finally:
        with _REDIRECTION_LOCK:
            try:
                _flush(sys.stdout)
                _flush(sys.stderr)
                _flush_c_stdio()
                log.stdout = _read_from(shared.out, starts[0])
                log.text = _read_from(shared.err, starts[1])
                log.lines = log.text.splitlines()
            finally:
                shared.users -= 1
                if shared.users == 0:
                    _redirection = None
                    _restore(shared)
        _log_text("stdout", log.stdout)
        _log_text("stderr", log.text)


def _private_stream(fd: int, like: TextIO) -> TextIO:
    """A text stream writing to ``fd`` with the encoding and buffering of ``like``."""
    line_buffering = bool(getattr(like, "line_buffering", False))
    raw = io.FileIO(fd, "w", closefd=False)
    return io.TextIOWrapper(io.BufferedWriter(raw), encoding=getattr(like, "encoding", None) or "utf-8",
                            errors=getattr(like, "errors", None) or "strict", line_buffering=line_buffering,
                            write_through=line_buffering)


def _uses_fd(stream: TextIO | None, fd: int) -> bool:
    try:
        return stream is not None and stream.fileno() == fd
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return False


@contextlib.contextmanager
def native_output_redirected(show: bool = False) -> Iterator[None]:
    """For the duration, fd 1 and fd 2 belong to native code: they point at the null device (``show``:
    fd 1 at the real stderr, fd 2 left as is), while ``sys.stdout`` / ``sys.stderr`` write to private
    duplicates of the real stdout / stderr. A stream that is not file descriptor 1 or 2 (a test's capture,
    a redirected ``sys.stdout``) is left alone. Restored on exit."""
    saved: list[tuple[int, int, str, TextIO | None]] = []  # (fd, private duplicate, sys attribute, old stream)
    sink = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd, name in ((1, "stdout"), (2, "stderr")):
            if fd == 2 and show:
                continue
            stream = getattr(sys, name)
            _flush(stream)
            try:
                private = os.dup(fd)
            except OSError:  # the descriptor is closed: nothing to protect
                continue
            saved.append((fd, private, name, stream))
            if _uses_fd(stream, fd) and stream is not None:
                setattr(sys, name, _private_stream(private, stream))
        _flush_c_stdio()
        for fd, _, _, _ in saved:
            os.dup2(2 if (show and fd == 1) else sink, fd)
        yield
    finally:
        _flush_c_stdio()
        for fd, private, name, stream in reversed(saved):
            current = getattr(sys, name)
            if current is not stream:
                _flush(current)
                setattr(sys, name, stream)
            os.dup2(private, fd)
            os.close(private)
        os.close(sink)


def silence_stdout_fd(show: bool = False) -> None:
    """Point fd 1 at the null device (``show``: at stderr) for the rest of the process, after onnpu's own
    output is flushed: what native libraries print while the interpreter shuts down lands nowhere else."""
    _flush(sys.stdout)
    _flush_c_stdio()
    target = os.open(os.devnull, os.O_WRONLY) if not show else os.dup(2)
    with contextlib.suppress(OSError):
        os.dup2(target, 1)
    os.close(target)
