"""``onnpu cache list|clear``: what onnpu keeps in its cache (compiled NPU contexts, built models)."""

from __future__ import annotations

import argparse
import time

from rich.markup import escape
from rich.table import Table

from onnpu import context_cache
from onnpu.cli.common import add_json_arg, console, print_json
from onnpu.paths import cache_dir


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cache", help="list or clear cached compiled NPU contexts")
    p.add_argument("action", choices=("list", "clear"))
    add_json_arg(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "clear":
        removed = context_cache.clear()
        if args.json:
            print_json({"removed_contexts": removed})
        else:
            console.print(f"removed {removed} cached context{'s' if removed != 1 else ''} from {cache_dir()}")
        return 0
    entries = context_cache.list_entries()
    if args.json:
        print_json({"cache_dir": str(cache_dir()), "contexts": [e.to_dict() for e in entries]})
        return 0
    table = Table(title=f"compiled NPU contexts in {escape(str(cache_dir()))}", title_justify="left")
    for col in ("key", "model", "options", "MB", "created"):
        table.add_column(col)
    for e in entries:
        table.add_row(e.key[:12], escape(e.model), escape(", ".join(f"{k}={v}" for k, v in e.options.items())),
                      f"{e.size_bytes / 1e6:.1f}", time.strftime("%Y-%m-%d %H:%M", time.localtime(e.created)))
    console.print(table)
    return 0
