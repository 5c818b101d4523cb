"""Capture what native libraries (ONNX Runtime, QNN) write to the process's stderr, at the
file-descriptor level, so that their messages can be parsed instead of lost or shown raw; and read the QNN
EP's reasons for refusing nodes out of what was captured."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field

from onnpu.runtime.placement import original_name

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_UNSUPPORTED = re.compile(r"\{ name: ([^,]*), type: ([^ ]+) \}")
_FAILED = re.compile(r"Validation FAILED for \d+ nodes in OrtNodeUnit \(([^)]*)\)")
_NODE = re.compile(r"Operator type: (\S+) Node name: (.*?) Node index")
_REASON = re.compile(r"REASON : (.*)$")


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

    def refusal_reasons(self) -> dict[str, str]:
        """Model node name → the QNN EP's reason for refusing it (``LogNodeSupport`` lines of the verbose
        log, session log level 0)."""
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
