"""The one channel for progress and notes from the library to whoever runs it (pypa/build's ``_ctx.py``).

The library never takes a progress callback: it calls :func:`advance` (``stage, done, total``) and
:func:`warn` / :func:`note`, which go to the :class:`Reporter` of the current context. The CLI sets one that
draws a progress bar and prints warnings on stderr (``with reporting(reporter): ...``); by default, warnings
and notes go to the ``onnpu`` logger and progress nowhere. A context variable, so threads started with
``contextvars.copy_context()`` and asyncio tasks see the reporter of the code that started them."""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator

__all__ = ["Reporter", "advance", "current", "note", "reporting", "warn"]

_LOG = logging.getLogger("onnpu")


class Reporter:
    """What the library reports. Subclass and override; the base class logs and draws nothing."""

    def advance(self, stage: str, done: int, total: int | None) -> None:
        """``done`` of ``total`` items of ``stage`` (e.g. "calibrating", 12, 64) are finished."""

    def warn(self, message: str) -> None:
        _LOG.warning(message)

    def note(self, message: str) -> None:
        _LOG.info(message)


_DEFAULT = Reporter()
_CURRENT: contextvars.ContextVar[Reporter] = contextvars.ContextVar("onnpu_reporter", default=_DEFAULT)


def current() -> Reporter:
    return _CURRENT.get()


@contextlib.contextmanager
def reporting(reporter: Reporter) -> Iterator[Reporter]:
    """Send the library's progress and notes to ``reporter`` inside the block."""
    token = _CURRENT.set(reporter)
    try:
        yield reporter
    finally:
        _CURRENT.reset(token)


def advance(stage: str, done: int, total: int | None = None) -> None:
    _CURRENT.get().advance(stage, done, total)


def warn(message: str) -> None:
    _CURRENT.get().warn(message)


def note(message: str) -> None:
    _CURRENT.get().note(message)
