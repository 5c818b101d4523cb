"""The one progress/log channel: a context variable the CLI sets and the library reads."""

from __future__ import annotations

import contextvars
import threading

from onnpu import progress


class Recorder(progress.Reporter):
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def advance(self, stage: str, done: int, total: int | None) -> None:
        self.events.append((stage, (done, total)))

    def warn(self, message: str) -> None:
        self.events.append(("warn", message))


def test_reporter_set_for_a_block_only() -> None:
    recorder = Recorder()
    progress.advance("outside", 1, 2)
    with progress.reporting(recorder):
        progress.advance("calibrating", 3, 8)
        progress.warn("calibration is random")
    progress.warn("after")
    assert recorder.events == [("calibrating", (3, 8)), ("warn", "calibration is random")]
    assert type(progress.current()) is progress.Reporter


def test_threads_started_with_the_context_see_the_reporter() -> None:
    recorder = Recorder()
    with progress.reporting(recorder):
        context = contextvars.copy_context()
        thread = threading.Thread(target=context.run, args=(progress.advance, "worker", 1, 1))
        thread.start()
        thread.join()
    assert recorder.events == [("worker", (1, 1))]
