"""``onnpu bench MODEL... --target cpu,npu``: interleaved latency, start-up, memory and drift."""

from __future__ import annotations

import argparse
import csv
import io
import sys

from rich.markup import escape
from rich.table import Table

from onnpu.benchmark import BenchResult, benchmark
from onnpu.cli.common import add_json_arg, console, local_model, parse_dims, print_json
from onnpu.errors import InputDataError
from onnpu.qnn_options import parse_option
from onnpu.running import load_arrays
from onnpu.targets import get_target


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="latency on several targets, interleaved, with start-up, memory and drift")
    p.add_argument("models", nargs="+", help="ONNX model(s); every model runs on every target")
    p.add_argument("--target", "-t", default="cpu,npu", help="comma-separated targets (default cpu,npu)")
    p.add_argument("--ep-option", action="append", default=[], metavar="KEY=VALUE", help="QNN provider option")
    p.add_argument("--no-fallback", action="store_true", help="NPU targets must run the whole model")
    p.add_argument("--iterations", "-n", type=int, default=10, help="interleaved rounds (default 10)")
    p.add_argument("--duration", type=float, help="measure for this many seconds instead of --iterations")
    p.add_argument("--warmup", type=int, default=2, help="warm-up runs per target (default 2)")
    p.add_argument("--input", "-i", help=".npz with one array per model input (default: random)")
    p.add_argument("--seed", type=int, default=0, help="seed for random inputs")
    p.add_argument("--reference", help="float model run on the CPU as the drift reference")
    p.add_argument("--threads", type=int, help="intra-op threads for every session")
    p.add_argument("--dim", action="append", default=[], metavar="NAME=VALUE", help="fix a symbolic dim")
    p.add_argument("--no-cache", action="store_true", help="do not use the NPU context cache")
    p.add_argument("--csv", action="store_true", help="print one CSV row per run")
    p.add_argument("--report", metavar="DIR", help="write report.json/.md/.html and plots to DIR")
    add_json_arg(p)
    p.set_defaults(handler=run)


def render(result: BenchResult) -> None:
    table = Table(title=f"{result.iterations} interleaved rounds, {result.input_source}, {result.threads}",
                  title_justify="left")
    cols = ("run", "p50", "mean", "std", "min", "p90", "p95", "p99", "max", "inf/s", "cold s", "cached s",
            "first ms", "RSS MB")
    for col in cols:
        table.add_column(col, justify="left" if col == "run" else "right")
    for r in result.runs:
        s = r.stats
        cached = "-" if r.session_cached_s is None else f"{r.session_cached_s:.3f}"
        table.add_row(escape(r.label), *(f"{v:.2f}" for v in (s.p50, s.mean, s.std, s.min, s.p90, s.p95, s.p99, s.max)),
                      f"{s.throughput:.1f}", f"{r.session_cold_s:.3f}", cached, f"{r.first_run_ms:.1f}",
                      f"{r.rss_after_session_mb:.0f}")
    console.print(table)
    console.print("latencies in ms; RSS after each session was created; peak RSS of the process "
                  f"{result.peak_rss_mb:.0f} MB")
    for r in result.runs:
        console.print(f"  {escape(r.label)}: {escape(r.placement)}" + (f"; context cache {r.cache}" if r.cache != "off"
                                                                       else ""), soft_wrap=True)
    if result.drift:
        drift = Table(title="output drift against " + escape(result.drift[0].reference), title_justify="left")
        for col in ("run", "output", "SQNR dB", "max |err|", "mean |err|", "cosine", "top-1", "top-5"):
            drift.add_column(col, justify="left" if col in ("run", "output") else "right")
        for d in result.drift:
            for o in d.outputs:
                drift.add_row(escape(d.label), escape(o.name), f"{o.sqnr_db:.2f}", f"{o.max_abs_error:.4g}",
                              f"{o.mean_abs_error:.4g}", f"{o.cosine:.5f}",
                              "-" if o.top1_agreement is None else f"{o.top1_agreement:.0%}",
                              "-" if o.top5_overlap is None else f"{o.top5_overlap:.0%}")
        console.print(drift)


def to_csv(result: BenchResult) -> str:
    out = io.StringIO()
    fields = ["label", "model", "target", "p50", "mean", "std", "min", "p90", "p95", "p99", "max", "throughput",
              "session_cold_s", "session_cached_s", "first_run_ms", "rss_after_session_mb"]
    writer = csv.writer(out)
    writer.writerow(fields)
    for r in result.runs:
        s = r.stats
        writer.writerow([r.label, r.model, r.target, s.p50, s.mean, s.std, s.min, s.p90, s.p95, s.p99, s.max,
                         s.throughput, r.session_cold_s, r.session_cached_s, r.first_run_ms, r.rss_after_session_mb])
    return out.getvalue()


def run(args: argparse.Namespace) -> int:
    args.models = [local_model(m) or m for m in args.models]
    args.reference = local_model(args.reference)
    options = dict(parse_option(o) for o in args.ep_option)
    targets = []
    for name in [t for t in args.target.split(",") if t.strip()]:
        target = get_target(name, options if name.strip().lower() != "cpu" else None,
                            allow_fallback=not args.no_fallback)
        targets.append(target)
    if not targets:
        raise InputDataError("no target given", hint="e.g. --target cpu,npu")
    inputs = load_arrays({"*": args.input}) if args.input else None
    result = benchmark([(m, t) for m in args.models for t in targets], iterations=args.iterations,
                       duration=args.duration, warmup=args.warmup, inputs=inputs, seed=args.seed,
                       reference=args.reference, dims=parse_dims(args.dim), threads=args.threads,
                       cache=not args.no_cache)
    if args.report:
        from onnpu.report import write_report

        written = write_report(result, args.report)
    if args.json:
        print_json(result.to_dict())
    elif args.csv:
        sys.stdout.write(to_csv(result))
    else:
        render(result)
        if args.report:
            console.print(f"report: {escape(str(written[-1]))}")
    return 0
