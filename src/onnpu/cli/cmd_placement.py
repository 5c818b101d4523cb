"""``onnpu placement MODEL --target npu``: which node runs where, and why."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from onnpu.cli.args import add_json_arg, add_target_args, parse_dims, target_from
from onnpu.errors import ExitCode

if TYPE_CHECKING:
    from onnpu.tasks.explain_placement import NodeReport, PlacementReport


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("placement", help="which provider runs each node, why nodes fall back, how to fix it")
    p.add_argument("model", help="ONNX model file")
    add_target_args(p, "npu", fallback=False, cache=False)
    p.add_argument("--all", action="store_true", help="list every node, not only those off the target")
    p.add_argument("--require-full", action="store_true", help="exit 2 if any node is left on the CPU")
    add_json_arg(p)
    p.set_defaults(handler=run)


def render(report: PlacementReport, everything: bool) -> None:
    from collections import Counter

    from rich.table import Table

    from onnpu.cli.console import escape, out

    style = "green" if report.fully_on_target else "yellow"
    out().print(f"[bold]{report.model}[/] on {report.target.describe()}")
    out().print(f"[{style}]{report.summary.headline()}[/]; {report.transitions} CPU↔{report.target.device} transition"
                f"{'s' if report.transitions != 1 else ''}", soft_wrap=True)
    out().print(f"precision: {report.precision}", soft_wrap=True)
    ops = Table(title="op types", title_justify="left")
    providers = sorted({p for counts in report.by_op_type.values() for p in counts})
    ops.add_column("op")
    for p in providers:
        ops.add_column(p.replace("ExecutionProvider", ""), justify="right")
    for op, counts in report.by_op_type.items():
        ops.add_row(op, *[str(counts.get(p, "")) for p in providers])
    out().print(ops)
    shown = report.nodes if everything else [n for n in report.nodes if n.provider != report.target.provider]
    collapsed: dict[str, list[NodeReport]] = {}
    if not everything:  # nodes inside a control-flow body share its reason and fix: one line per body
        for n in shown:
            if n.scope:
                collapsed.setdefault(n.scope.split("/")[0], []).append(n)
        shown = [n for n in shown if not n.scope]
    if shown:
        table = Table(title="nodes" if everything else "nodes not on the target", title_justify="left")
        for col in ("node", "op", "provider", "reason", "fix"):
            table.add_column(col, overflow="fold")
        for n in shown:
            table.add_row(escape(n.name), n.op_type, (n.provider or "removed").replace("ExecutionProvider", ""),
                          escape(n.reason), escape(n.fix))
            inner = [b for b in collapsed.get(n.name, []) if b.provider]
            if inner:
                kinds = Counter(b.op_type for b in inner)
                listed = ", ".join(f"{op} ×{c}" for op, c in kinds.most_common(6))
                table.add_row(f"  ↳ {len(inner)} nodes inside {escape(n.name)}", escape(listed),
                              ", ".join(sorted({(b.provider or "").replace("ExecutionProvider", "") for b in inner})),
                              f"inside {escape(n.name)}: the QNN EP takes no node of a control-flow body that "
                              "stays on the CPU", "as above (--all lists each node)")
        out().print(table)
    for note in report.notes:
        out().print(f"note: {escape(note)}", soft_wrap=True)
    for rec in report.recommendations:
        out().print(f"[cyan]recommendation:[/] {rec}", soft_wrap=True)


def run(args: argparse.Namespace) -> int:
    from onnpu.cli.console import print_json
    from onnpu.cli.sources import local_model
    from onnpu.tasks.explain_placement import explain_placement

    args.model = local_model(args.model)
    report = explain_placement(args.model, target_from(args), dims=parse_dims(args.dim))
    if args.json:
        print_json(report.to_dict())
    else:
        render(report, args.all)
    return int(ExitCode.REFUSED) if args.require_full and not report.fully_on_target else 0
