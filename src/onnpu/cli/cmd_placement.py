"""``onnpu placement MODEL --target npu``: which node runs where, and why. Compact by default (counts per provider
and op type, each distinct reason once with the nodes it covers and its fix); ``--all`` lists every node."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import TYPE_CHECKING

from onnpu.cli.args import add_json_arg, add_target_args, parse_dims, target_from
from onnpu.errors import ExitCode

if TYPE_CHECKING:
    from onnpu.tasks.explain_placement import PlacementReport

# how a node no provider runs is shown (runtime.placement.STATES)
STATE_WORDS = {"constant": "constant", "folded": "folded", "removed": "removed", "refused": "refused",
               "unplaced": "not placed"}
NAMES_SHOWN = 6
FUSIONS_SHOWN = 6


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("placement", help="which provider runs each node, why nodes fall back, how to fix it")
    p.add_argument("model", help="ONNX model file")
    add_target_args(p, "npu", fallback=False, cache=False)
    p.add_argument("--all", action="store_true",
                   help="list every node (default: counts per op type and each reason once, with its nodes)")
    p.add_argument("--require-full", action="store_true", help="exit 3 if any node is left off the target")
    add_json_arg(p)
    p.set_defaults(handler=run)


def _where(key: str) -> str:
    from onnpu.runtime.placement import PROVIDER_SHORT

    return STATE_WORDS.get(key) or PROVIDER_SHORT.get(key) or key.replace("ExecutionProvider", "")


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:NAMES_SHOWN])
    return shown + (f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else "")


def _ops(counts: dict[str, int], limit: int = 5) -> str:
    items = list(counts.items())
    text = ", ".join(f"{op} ×{c}" for op, c in items[:limit])
    return text + (f", +{len(items) - limit} op types" if len(items) > limit else "")


def render(report: PlacementReport, everything: bool) -> None:
    from rich.table import Table

    from onnpu.cli.console import escape, out

    summary = report.summary
    style = "green" if report.fully_on_target else "yellow"
    out().print(f"[bold]{escape(report.model)}[/] on {report.target.describe()}")
    out().print(f"[{style}]{escape(summary.headline())}[/]; {report.transitions} CPU↔{report.target.device} "
                f"transition{'s' if report.transitions != 1 else ''}", soft_wrap=True)
    out().print(f"precision: {report.precision}", soft_wrap=True)
    ops = Table(title="by op type", title_justify="left")
    columns = list(dict.fromkeys(k for counts in report.by_op_type.values() for k in counts))
    columns.sort(key=lambda k: (k in STATE_WORDS, k != report.target.provider, k))
    ops.add_column("op")
    for key in columns:
        ops.add_column(_where(key), justify="right")
    for op, counts in report.by_op_type.items():
        ops.add_row(op, *[str(counts.get(k, "")) for k in columns])
    out().print(ops)
    fusions = report.fusions
    if fusions:
        out().print(f"ONNX Runtime fused {sum(len(f.nodes) for f in fusions)} nodes into {len(fusions)} of its own "
                    "(before placement):", soft_wrap=True)
        for fusion in fusions if everything else fusions[:FUSIONS_SHOWN]:
            where = _where(fusion.provider or fusion.nodes[0].state)
            ops_text = _ops(dict(Counter(n.op_type for n in fusion.nodes).most_common()))
            out().print(f"  {escape(ops_text)} → {escape(fusion.into)} ({where})", soft_wrap=True)
        if not everything and len(fusions) > FUSIONS_SHOWN:
            out().print(f"  and {len(fusions) - FUSIONS_SHOWN} more fusions (--all lists them)")
    if summary.inserted:
        listed = ", ".join(f"{_where(p)} {c}" for p, c in summary.inserted.items())
        out().print(f"ONNX Runtime inserted {sum(summary.inserted.values())} nodes of its own (layout transposes): "
                    f"{listed}", soft_wrap=True)
    if everything:
        table = Table(title="nodes", title_justify="left")
        for col in ("node", "op", "where", "reason", "fix"):
            table.add_column(col, overflow="fold")
        for n in report.nodes:
            where = _where(n.provider) if n.provider else STATE_WORDS.get(n.state, n.state)
            if n.state == "fused":
                where += f" (fused into {n.fused_into})"
            name = f"{n.scope}/{n.name}" if n.scope else n.name
            table.add_row(escape(name), n.op_type, escape(where), escape(n.reason), escape(n.fix))
        out().print(table)
    groups = report.reasons
    if groups:
        off = sum(len(g.nodes) for g in groups)
        out().print(f"[yellow]why {off} node{'s are' if off != 1 else ' is'} not on the {report.target.device}[/] "
                    "(each reason once" + ("" if everything else "; --all lists every node") + "):", soft_wrap=True)
        for k, group in enumerate(groups, 1):
            out().print(f" {k}. {len(group.nodes)} node{'s' if len(group.nodes) != 1 else ''} "
                        f"({escape(_ops(group.op_types))}): {escape(group.reason)}", soft_wrap=True)
            if not everything:
                out().print(f"    nodes: {escape(_names([n.name for n in group.nodes]))}", soft_wrap=True)
            if group.fix:
                out().print(f"    [cyan]fix:[/] {escape(group.fix)}", soft_wrap=True)
    for note in report.notes:
        out().print(f"note: {escape(note)}", soft_wrap=True)
    for rec in dict.fromkeys(report.recommendations):
        out().print(f"[cyan]recommendation:[/] {escape(rec)}", soft_wrap=True)


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
    if args.require_full and not report.fully_on_target:
        import sys

        why = ("the graph has no node to run there (its outputs are its inputs or constants)" if not report.nodes
               else f"{len(report.off_target)} node{'s' if len(report.off_target) != 1 else ''} kept off it")
        sys.stderr.write(f"error: {args.model}: --require-full: {why}\n")
        return int(ExitCode.REFUSED)
    return 0
