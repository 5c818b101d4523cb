"""Where the command line writes: rich consoles (made on first use, so ``--help`` never imports rich), JSON
for programs, and the one error boundary's rendering."""

from __future__ import annotations

import sys
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from onnpu.errors import OnnpuError


@cache
def out() -> Console:
    """Standard output, for people."""
    from rich.console import Console

    return Console(highlight=False)


@cache
def err() -> Console:
    """Standard error: progress, warnings, errors."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    from onnpu.guards import printable

    return rich_escape(printable(text, keep="\n\t"))


def print_json(data: Any) -> None:
    """Strict JSON on stdout (non-finite numbers as null): ``onnpu.jsonio`` is the one writer."""
    from onnpu.jsonio import dumps

    sys.stdout.write(dumps(data) + "\n")


def fail(exc: OnnpuError) -> int:
    err().print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
    if exc.hint:
        err().print(f"[yellow]hint:[/] {escape(exc.hint)}", soft_wrap=True)
    return exc.exit_code
