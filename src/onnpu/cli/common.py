"""Arguments shared by several verbs, and turning them into library values."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

from onnpu.errors import OnnpuError, ShapeError
from onnpu.qnn_options import parse_option
from onnpu.targets import Target, get_target

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def add_target_args(parser: argparse.ArgumentParser, default: str = "cpu") -> None:
    parser.add_argument("--target", "-t", default=default,
                        help=f"cpu, npu (QNN HTP) or a provider name (default: {default})")
    parser.add_argument("--ep-option", action="append", default=[], metavar="KEY=VALUE",
                        help="provider option, repeatable (validated against the QNN EP's documented options)")
    parser.add_argument("--no-fallback", action="store_true",
                        help="fail instead of running nodes the target cannot run on the CPU")
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
