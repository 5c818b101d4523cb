"""Capture what native libraries (ONNX Runtime, QNN) write to the process's stderr, at the
file-descriptor level, so that their messages can be parsed instead of lost or shown raw."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_UNSUPPORTED = re.compile(r"\{ name: ([^,]*), type: ([^ ]+) \}")


@dataclass
class CapturedLog:
    text: str = ""
    lines: list[str] = field(default_factory=list)

    def unsupported_nodes(self) -> list[tuple[str, str]]:
        """(name, op type) of the nodes the QNN EP listed as unsupported."""
        found: list[tuple[str, str]] = []
        for line in self.lines:
            if "Unsupported nodes in QNN EP" in line:
                for name, op in _UNSUPPORTED.findall(line):
                    if (name, op) not in found:
                        found.append((name, op))
        return found


@contextlib.contextmanager
def capture_stderr() -> Iterator[CapturedLog]:
    """Redirect fd 2 to a temporary file for the duration; the captured text is available afterwards."""
    log = CapturedLog()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield log
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            log.text = _ANSI.sub("", tmp.read().decode("utf-8", "replace"))
            log.lines = log.text.splitlines()
