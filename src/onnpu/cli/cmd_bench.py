"""``onnpu bench MODEL... --target cpu,npu``: interleaved latency, start-up, memory and drift."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from onnpu.cli.args import (
    add_json_arg,
    add_target_args,
    non_negative_int,
    parse_dims,
    positive_float,
    positive_int,
    targets_from,
)

if TYPE_CHECKING:
    from onnpu.measure.bench import BenchResult


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="latency on several targets, interleaved, with start-up, memory and drift")
    p.add_argument("models", nargs="+", help="ONNX model(s); every model runs on every target")
    add_target_args(p, "cpu,npu", many=True)
    how_long = p.add_mutually_exclusive_group()
    how_long.add_argument("--iterations", "-n", type=positive_int, default=10, help="interleaved rounds (default 10)")
    how_long.add_argument("--duration", type=positive_float, help="measure for this many seconds instead of rounds")
    p.add_argument("--warmup", type=non_negative_int, default=2, help="warm-up runs per target (default 2)")
    p.add_argument("--input", "-i", help=".npz with one array per model input (default: random)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed for random inputs")
    p.add_argument("--reference", help="float model run on the CPU as the drift reference")
    p.add_argument("--threads", type=positive_int, help="intra-op threads for every session")
    p.add_argument("--report", metavar="DIR", help="write report.json/.md/.html and plots to DIR")
    output = p.add_mutually_exclusive_group()
    output.add_argument("--csv", action="store_true", help="print one CSV row per run")
    add_json_arg(output)
    p.set_defaults(handler=run)


def render(result: BenchResult) -> None:
    from rich.table import Table

    from onnpu.cli.console import escape, out

    table = Table(title=f"{result.iterations} interleaved rounds, {result.input_source}, {result.threads}",
                  title_justify="left")
    cols = ("run", "p50", "mean", "std", "min", "p90", "p95", "p99", "max", "inf/s", "cold s", "cached s",
            "first ms", "RSS MB")
    for col in cols:
        table.add_column(col, justify="left" if col == "run" else "right")
    for r in result.runs:
        s = r.stats
        if s is None:  # the cell could not run: its row says why, the others ran
            table.add_row(escape(r.label), f"[red]did not run: {escape(r.error or '')}[/]", *([""] * (len(cols) - 2)))
            continue
        table.add_row(escape(r.label), *(f"{v:.2f}" for v in (s.p50, s.mean, s.std, s.min, s.p90, s.p95, s.p99, s.max)),
                      f"{s.throughput:.1f}", _num(r.session_cold_s, ".3f"), _num(r.session_cached_s, ".3f"),
                      _num(r.first_run_ms, ".1f"), _num(r.rss_after_session_mb, ".0f"))
    out().print(table)
    out().print("latencies in ms; RSS after each session was created; peak RSS of the process "
                f"{result.peak_rss_mb:.0f} MB")
    for r in result.runs:
        if r.error:
            out().print(f"  [red]{escape(r.label)}: did not run: {escape(r.error)}[/]"
                        + (f" (hint: {escape(r.hint)})" if r.hint else ""), soft_wrap=True)
            continue
        out().print(f"  {escape(r.label)}: {escape(r.placement)}" + (f"; context cache {r.cache}" if r.cache != "off"
                                                                     else ""), soft_wrap=True)
    if result.drift:
        drift = Table(title="output drift against " + escape(result.drift[0].reference), title_justify="left")
        for col in ("run", "output", "SQNR dB", "max |err|", "mean |err|", "max steps", "cosine", "top-1", "top-5"):
            drift.add_column(col, justify="left" if col in ("run", "output") else "right")
        for d in result.drift:
            for o in d.outputs:
                drift.add_row(escape(d.label), escape(o.name), f"{o.sqnr_db:.2f}", f"{o.max_abs_error:.4g}",
                              f"{o.mean_abs_error:.4g}", "-" if o.max_steps is None else f"{o.max_steps:.2f}",
                              o.cosine_text(),
                              "-" if o.top1_agreement is None else f"{o.top1_agreement:.0%}",
                              "-" if o.top5_overlap is None else f"{o.top5_overlap:.0%}")
        out().print(drift)
    for note in result.notes:
        out().print(f"[yellow]note: {escape(note)}[/]", soft_wrap=True)


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _to_csv(result: BenchResult) -> str:
    import csv
    import io

    buffer = io.StringIO()
    fields = ["label", "model", "target", "p50", "mean", "std", "min", "p90", "p95", "p99", "max", "throughput",
              "session_cold_s", "session_cached_s", "first_run_ms", "rss_after_session_mb", "error"]
    writer = csv.writer(buffer)
    writer.writerow(fields)
    for r in result.runs:
        s = r.stats
        numbers = [s.p50, s.mean, s.std, s.min, s.p90, s.p95, s.p99, s.max, s.throughput] if s else [None] * 9
        writer.writerow([r.label, r.model, r.target, *numbers, r.session_cold_s, r.session_cached_s,
                         r.first_run_ms, r.rss_after_session_mb, r.error or ""])
    return buffer.getvalue()


def run(args: argparse.Namespace) -> int:
    import sys

    from onnpu.cli.console import escape, out, print_json
    from onnpu.cli.sources import local_model
    from onnpu.errors import ExitCode
    from onnpu.guards import check_destination
    from onnpu.measure.bench import benchmark

    if args.report:  # before any work: never a link, file or special file
        check_destination(args.report, what="report", flag="--report", folder=True)
    from onnpu.runtime.feeds import load_arrays

    args.models = [local_model(m) or m for m in args.models]
    args.reference = local_model(args.reference)
    targets = targets_from(args, "cpu,npu")
    inputs = load_arrays({"*": args.input}) if args.input else None
    result = benchmark([(m, t) for m in args.models for t in targets], iterations=args.iterations,
                       duration=args.duration, warmup=args.warmup, inputs=inputs, seed=args.seed,
                       reference=args.reference, dims=parse_dims(args.dim), threads=args.threads,
                       cache=not args.no_cache)
    if args.report:
        from onnpu.measure.report import write_report

        written = write_report(result, args.report)
    if args.json:
        print_json(result.to_dict())
    elif args.csv:
        sys.stdout.write(_to_csv(result))
    else:
        render(result)
        if args.report:
            out().print(f"report: {escape(str(written[-1]))}")
    return int(ExitCode.PARTIAL) if result.failed else 0
