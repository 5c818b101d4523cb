"""Arguments shared by several verbs, and turning them into library values."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console
from rich.markup import escape

from onnpu.errors import OnnpuError, ShapeError
from onnpu.qnn_options import parse_option
from onnpu.targets import Target, get_target

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def add_target_args(parser: argparse.ArgumentParser, default: str = "cpu", *, fallback: bool = True,
                    cache: bool = True) -> None:
    parser.add_argument("--target", "-t", default=default,
                        help=f"cpu, npu (QNN HTP) or a provider name (default: {default})")
    parser.add_argument("--ep-option", action="append", default=[], metavar="KEY=VALUE",
                        help="provider option, repeatable (validated against the QNN EP's documented options)")
    if fallback:
        parser.add_argument("--no-fallback", action="store_true",
                            help="fail instead of running nodes the target cannot run on the CPU")
    else:
        parser.set_defaults(no_fallback=False)
    if cache:
        parser.add_argument("--no-cache", action="store_true",
                            help="compile the NPU graph afresh instead of loading the cached QNN context")
    add_dim_arg(parser)


def add_dim_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dim", action="append", default=[], metavar="NAME=VALUE",
                        help="fix a symbolic dimension for the session, e.g. --dim N=1 (repeatable)")


def add_json_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def parse_dims(items: list[str]) -> dict[str, int]:
    dims: dict[str, int] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value.strip().isdigit() or int(value) < 1:
            raise ShapeError(f"--dim {item!r} is not NAME=VALUE with a positive integer", hint="e.g. --dim N=1")
        if name in dims and dims[name] != int(value):
            raise ShapeError(f"--dim {name} given twice ({dims[name]} and {value})", hint="give each dim once")
        dims[name] = int(value)
    return dims


def target_from(args: argparse.Namespace, name: str | None = None) -> Target:
    options = dict(parse_option(o) for o in args.ep_option)
    return get_target(name or args.target, options, allow_fallback=not args.no_fallback)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def fail(exc: OnnpuError) -> int:
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
    if exc.hint:
        err_console.print(f"[yellow]hint:[/] {escape(exc.hint)}", soft_wrap=True)
    return exc.exit_code


def add_download_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sha256", help="expected SHA-256 of a model given as a URL")
    parser.add_argument("--model-data", action="append", default=[], metavar="URL",
                        help="URL of the model's external-data file (default: found beside the model URL)")


def local_model(ref: str | None, args: argparse.Namespace | None = None) -> str | None:
    """A model path, downloading ``http(s)://`` URLs (with their external data) into the cache."""
    from onnpu.downloads import fetch_model, is_url

    if ref is None or not is_url(ref):
        return ref
    sha = getattr(args, "sha256", None) if args else None
    data = tuple(getattr(args, "model_data", []) or []) if args else ()
    with _download_progress() as progress:
        return str(fetch_model(ref, sha256=sha, data_urls=data, progress=progress))


def local_file(ref: str | None) -> str | None:
    """A file path, downloading ``http(s)://`` URLs (labels, images) into the cache."""
    from onnpu.downloads import fetch, is_url

    if ref is None or not is_url(ref):
        return ref
    with _download_progress() as progress:
        return str(fetch(ref, progress=progress))


@contextlib.contextmanager
def _download_progress() -> Iterator[Callable[[str, int, int], None]]:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    tasks: dict[str, Any] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  console=err_console, transient=True) as bar:

        def report(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(f"downloading {name}", total=total or None)
            bar.update(tasks[name], completed=done, total=total or None)

        yield report
