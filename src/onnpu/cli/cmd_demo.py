"""``onnpu demo``: the default model on CPU float, CPU quantized and NPU, side by side."""

from __future__ import annotations

import argparse

from onnpu.cli.args import add_json_arg, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="classify a photo with the built-in model on CPU float, CPU quantized and NPU")
    p.add_argument("image", nargs="?", help="image to classify (default: matplotlib's grace_hopper.jpg)")
    p.add_argument("--top", type=positive_int, default=5, help="classes to show (default 5)")
    add_json_arg(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.table import Table

    from onnpu.cli.console import escape, out, print_json
    from onnpu.cli.render import print_placement
    from onnpu.errors import ExitCode
    from onnpu.machine import has_vnni, is_x86_64
    from onnpu.tasks.demo import demo

    result = demo(args.image, top=args.top)
    matches = result.npu_matches_float
    # a column that did not run: partial (5); the NPU's top-1 not the float model's: the demo's floor (4)
    code = ExitCode.PARTIAL if result.failed else ExitCode.OK if matches else ExitCode.QUALITY
    if args.json:
        print_json(result.to_dict())
        return int(code)
    table = Table(title=f"top-{args.top} for {Path(result.image).name}", title_justify="left")
    table.add_column("#", justify="right")
    for run_ in result.runs:
        table.add_column(run_.label)
    for rank in range(args.top):
        cells = []
        for run_ in result.runs:
            if run_.result is None:
                cells.append("[red]did not run[/]" if rank == 0 else "")
                continue
            p = run_.result.images[0].top[rank]
            cells.append(f"{p.index} {escape(p.label)} {p.score:.3f}")
        table.add_row(str(rank + 1), *cells)
    done = [r.result for r in result.runs]
    table.add_row("", *[f"[bold]{r.median_latency_ms:.1f} ms[/] median" if r else "" for r in done])
    table.add_row("", *[f"session {r.session_seconds * 1000:.0f} ms" if r else "" for r in done])
    out().print(table)
    for run_ in result.runs:
        if run_.result is None:
            out().print(f"[red]{run_.label}: did not run: {escape(str(run_.error))}[/]", soft_wrap=True)
            continue
        out().print(f"{run_.label}: ", end="")
        print_placement(run_.result.target, run_.result.providers, run_.result.placement)
    float_run, cpu_q, npu_run = (r.result for r in result.runs)
    if float_run is not None and cpu_q is not None and cpu_q.images[0].top[0].index != float_run.images[0].top[0].index:
        vnni = has_vnni()  # the saturation explanation only where the CPU really lacks VNNI
        why = {False: ", which saturate on this x86 CPU without VNNI (U8S8 with full-range int8 weights)",
               None: " (whether this CPU has VNNI is unknown)" if is_x86_64() else "", True: ""}[vnni]
        out().print(f"note: the CPU quantized column runs ONNX Runtime's fused int8 kernels{why}; they do not compute "
                    "the QDQ arithmetic as written, the NPU does (onnpu measures quality on the exact QDQ "
                    "arithmetic: see README, measured facts)", soft_wrap=True)
    if float_run is not None and npu_run is not None:
        float_top, npu_top = float_run.images[0].top[0], npu_run.images[0].top[0]
        if matches:
            out().print(f"[bold green]NPU top-1 matches the float model: {npu_top.index} {escape(npu_top.label)}[/]")
        else:
            out().print(f"[bold red]NPU top-1 {npu_top.index} {escape(npu_top.label)} differs from the float model's "
                        f"{float_top.index} {escape(float_top.label)}[/]")
    return int(code)
