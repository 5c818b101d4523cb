"""Model, label and image arguments that may be ``http(s)://`` URLs: downloaded (with a progress bar) into
the cache, with a model's external data beside it."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from onnpu.cli.console import err


def is_url(ref: str) -> bool:
    return ref.startswith(("http://", "https://"))


def local_model(ref: str | None, args: argparse.Namespace | None = None) -> str | None:
    """A model path, downloading ``http(s)://`` URLs (with their external data) into the cache."""
    if ref is None or not is_url(ref):
        return ref
    from onnpu.model.downloads import fetch_model

    sha = getattr(args, "sha256", None) if args else None
    data = tuple(getattr(args, "model_data", []) or []) if args else ()
    with _download_progress() as progress:
        return str(fetch_model(ref, sha256=sha, data_urls=data, progress=progress))


def local_file(ref: str | None) -> str | None:
    """A file path, downloading ``http(s)://`` URLs (labels, images) into the cache."""
    if ref is None or not is_url(ref):
        return ref
    from onnpu.model.downloads import fetch

    with _download_progress() as progress:
        return str(fetch(ref, progress=progress))


@contextlib.contextmanager
def _download_progress() -> Iterator[Callable[[str, int, int], None]]:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    tasks: dict[str, Any] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  console=err(), transient=True) as bar:

        def report(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(f"downloading {name}", total=total or None)
            bar.update(tasks[name], completed=done, total=total or None)

        yield report
