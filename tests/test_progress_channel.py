"""The one progress/log channel: a context variable the CLI sets and the library reads."""

from __future__ import annotations

import contextvars
import threading

import pytest

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


def test_the_command_lines_reporter_prints_warnings_once_and_no_bar_for_programs(
        capsys: pytest.CaptureFixture[str]) -> None:
    from onnpu.cli.progress import CliReporter

    quiet = CliReporter(show=False)  # --json / --csv: no bar, no notes; warnings still reach people on stderr
    with progress.reporting(quiet):
        progress.advance("calibrating", 1, 4)
        progress.note("building the model")
        progress.warn("calibration data is random")
        progress.warn("calibration data is random")
    quiet.close()
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "warning: calibration data is random\n"
    assert quiet._bar is None  # nothing was drawn
    shown = CliReporter(show=True)
    with progress.reporting(shown):
        progress.note("building the model")
        progress.advance("downloading model.onnx", 512, 1024)
        assert shown._bar is not None and shown._bar.tasks[0].fields["bytes"] is True
        progress.advance("calibrating", 2, 4)
        assert [t.description for t in shown._bar.tasks] == ["downloading model.onnx", "calibrating"]
        assert shown._bar.tasks[1].completed == 2 and shown._bar.tasks[1].total == 4
    shown.close()
    assert "building the model" in capsys.readouterr().err
