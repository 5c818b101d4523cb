"""The command line's reporter for ``onnpu.progress``, set once by ``main`` for every verb: a rich progress bar
on stderr (one row per stage, drawn from the first ``advance``), warnings as ``warning:`` lines and notes as
dim lines on stderr. stdout stays the program's: tables, ``--json``, CSV.

A stage whose name starts with ``downloading`` counts bytes (shown as sizes and a transfer speed); every
other stage counts items (shown as done/total and items per second)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onnpu.cli.console import err, escape
from onnpu.progress import Reporter

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

BYTES_STAGE = "downloading"


class CliReporter(Reporter):
    """Progress bars and notes only when ``show`` (not with ``--json``); warnings always (stderr)."""

    def __init__(self, show: bool = True, *, notes: bool = True) -> None:
        self.show = show
        self.notes = notes and show
        self._bar: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._warned: set[str] = set()

    def _progress(self) -> Progress:
        if self._bar is None:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            count, rate = _count_and_rate_columns()
            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), count, rate, TimeElapsedColumn(),
                                 console=err(), transient=True)
            self._bar.start()
        return self._bar

    def advance(self, stage: str, done: int, total: int | None) -> None:
        if not self.show:
            return
        bar = self._progress()
        total = total or None
        if stage not in self._tasks:
            self._tasks[stage] = bar.add_task(escape(stage), total=total, bytes=stage.startswith(BYTES_STAGE))
        bar.update(self._tasks[stage], completed=done, total=total)

    def warn(self, message: str) -> None:
        if message in self._warned:  # the same warning twice (e.g. two sessions of one model) is said once
            return
        self._warned.add(message)
        self._console().print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True)

    def note(self, message: str) -> None:
        if self.notes:
            self._console().print(f"[dim]{escape(message)}[/]", soft_wrap=True)

    def _console(self) -> Any:
        """Printing through the bar's console keeps the bar below the line."""
        return self._bar.console if self._bar is not None else err()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
            self._tasks.clear()


def _count_and_rate_columns() -> tuple[Any, Any]:
    """Two rich columns: done/total (sizes for bytes) and the rate (items/s or bytes/s)."""
    from rich.filesize import decimal
    from rich.progress import ProgressColumn
    from rich.text import Text

    class CountColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            fmt = (lambda n: decimal(int(n))) if task.fields.get("bytes") else (lambda n: str(int(n)))
            return Text(fmt(task.completed) + (f"/{fmt(task.total)}" if task.total else ""), style="progress.download")

    class RateColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            if not speed:
                return Text("")
            text = f"{decimal(int(speed))}/s" if task.fields.get("bytes") else f"{speed:.1f}/s"
            return Text(text, style="progress.data.speed")

    return CountColumn(), RateColumn()
