"""``onnpu cache list|clear``: what onnpu keeps in its cache (compiled NPU contexts, downloads)."""

from __future__ import annotations

import argparse

from onnpu.cli.args import add_json_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cache", help="list or clear cached compiled NPU contexts and downloads")
    p.add_argument("action", choices=("list", "clear"))
    add_json_arg(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import time

    from rich.table import Table

    from onnpu.cli.console import escape, out, print_json
    from onnpu.model import downloads
    from onnpu.paths import cache_dir
    from onnpu.runtime import context_cache

    if args.action == "clear":
        removed = context_cache.clear()
        removed_files = downloads.clear_downloads()
        if args.json:
            print_json({"removed_contexts": removed, "removed_downloads": removed_files})
        else:
            out().print(f"removed {removed} cached context{'s' if removed != 1 else ''} and {removed_files} "
                        f"download{'s' if removed_files != 1 else ''} from {escape(str(cache_dir()))}")
        return 0
    entries = context_cache.list_entries()
    files = downloads.list_downloads()
    if args.json:
        print_json({"cache_dir": str(cache_dir()), "contexts": [e.to_dict() for e in entries],
                    "downloads": [{"url": url, **entry} for url, entry in files.items()]})
        return 0
    table = Table(title=f"compiled NPU contexts in {escape(str(cache_dir()))}", title_justify="left")
    for col in ("key", "model", "options", "MB", "created"):
        table.add_column(col)
    for e in entries:
        table.add_row(e.key[:12], escape(e.model), escape(", ".join(f"{k}={v}" for k, v in e.options.items())),
                      f"{e.size_bytes / 1e6:.1f}", time.strftime("%Y-%m-%d %H:%M", time.localtime(e.created)))
    out().print(table)
    if files:
        dl = Table(title="downloads", title_justify="left")
        for col in ("url", "sha256", "path"):
            dl.add_column(col, overflow="fold")
        for url, entry in files.items():
            dl.add_row(escape(url), entry["sha256"][:16], escape(entry["path"]))
        out().print(dl)
    return 0
