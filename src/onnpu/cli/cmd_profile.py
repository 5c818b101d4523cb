"""``onnpu profile MODEL --target npu|cpu``: per-op cost table from ORT's and the QNN EP's profilers."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from onnpu.cli.args import add_json_arg, add_target_args, parse_dims, positive_int, target_from

if TYPE_CHECKING:
    from onnpu.measure.profile import ProfileResult


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("profile", help="what each op costs (QNN detailed profile on the NPU, ORT profiler on CPU)")
    p.add_argument("model", help="ONNX model file")
    add_target_args(p, "npu", cache=False)
    p.add_argument("--iterations", "-n", type=positive_int, default=5, help="timed inferences after one warm-up (5)")
    p.add_argument("--top", type=positive_int, default=15, help="rows to show (default 15)")
    p.add_argument("--out", help="folder for the raw profiles (default ./onnpu-profile-<model>)")
    add_json_arg(p)
    p.set_defaults(handler=run)


def render(result: ProfileResult, top: int) -> None:
    from rich.table import Table

    from onnpu.cli.console import escape, out

    out().print(f"[bold]{escape(result.model)}[/] on {result.target}: {result.iterations} runs, median "
                f"{result.median_wall_ms:.2f} ms; per-op rows sum to {result.rows_total_us / 1000:.2f} ms "
                f"({result.rows_total_us / 1000 / result.median_wall_ms:.0%} of the measured median)")
    table = Table(title=f"top {top} ops by cost (mean per inference)", title_justify="left")
    for col in ("#", "node", "op", "provider", "time ms", "cycles", "share"):
        table.add_column(col, justify="right" if col in ("#", "time ms", "cycles", "share") else "left")
    for i, r in enumerate(result.top(top), 1):
        where = f" [dim](in {escape(r.scope)})[/]" if r.scope else ""
        table.add_row(str(i), escape(r.name) + where, r.op_type, r.provider.replace("ExecutionProvider", ""),
                      f"{r.time_us / 1000:.3f}", "-" if r.cycles is None else f"{r.cycles:,.0f}", f"{r.share:.1%}")
    out().print(table)
    ops = ", ".join(f"{op} {us / 1000:.2f} ms" for op, us in list(result.by_op_type().items())[:8])
    out().print(f"by op type: {escape(ops)}", soft_wrap=True)
    for note in result.notes:
        out().print(f"[yellow]{escape(note)}[/]")
    out().print(f"raw profiles: {escape(', '.join(result.raw_files))}", soft_wrap=True)


def run(args: argparse.Namespace) -> int:
    from onnpu.cli.console import print_json
    from onnpu.cli.sources import local_model
    from onnpu.measure.profile import profile

    args.model = local_model(args.model)
    result = profile(args.model, target_from(args), iterations=args.iterations, out_dir=args.out,
                     dims=parse_dims(args.dim))
    if args.json:
        print_json(result.to_dict())
    else:
        render(result, args.top)
    return 0
