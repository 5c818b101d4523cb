"""``onnpu layers FLOAT QUANT``: where accuracy is lost, layer by layer (float vs quantized, and with
``--target npu`` the NPU vs the exact CPU arithmetic)."""

from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING

from onnpu.cli.args import (
    add_input_range_args,
    add_json_arg,
    add_preprocess_args,
    add_target_args,
    given,
    input_ranges_from,
    non_negative_int,
    parse_dims,
    positive_float,
    positive_int,
    preprocess_from,
    refuse,
    require_images,
    require_random,
    target_from,
)

if TYPE_CHECKING:
    from onnpu.measure.layers.result import LayerRow, LayersResult

FULL_TABLE_ROWS = 60  # longer graphs show the rows that matter unless --all


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("layers", help="where accuracy is lost, layer by layer: float vs quantized, NPU vs CPU",
                       description="Compare every activation a float model and its quantized copy share, in graph "
                                   "order (SQNR, error in quantization steps, cosine, SQNR lost at each layer); "
                                   "with --target npu, also the quantized model on the NPU against the exact CPU "
                                   "arithmetic. Give only the quantized model to compare it on the NPU alone.")
    p.add_argument("models", nargs="+", metavar="MODEL", help="FLOAT.onnx QUANT.onnx, or QUANT.onnx with --target npu")
    p.add_argument("--inputs", default="random", help="folder of images, .npz, or random (default)")
    p.add_argument("--count", type=positive_int, default=8, help="inputs to use (default 8; the HTP emulator is slow)")
    p.add_argument("--seed", type=non_negative_int, default=0)
    add_input_range_args(p)
    add_target_args(p, "cpu")
    p.add_argument("--threshold", type=float, metavar="DB",
                   help="with a float model: report the first layer whose SQNR falls below this (default 20 dB)")
    p.add_argument("--top", type=positive_int, help="with a float model: how many of the worst layers to list "
                   "(default 10)")
    p.add_argument("--all", action="store_true", help=f"print every layer (default: all up to {FULL_TABLE_ROWS})")
    p.add_argument("--max-mb", type=positive_float, default=512, metavar="MB",
                   help="memory for one input's tensors; bigger models run in chunks, slower (default 512)")
    p.add_argument("--report", metavar="DIR", help="write report.json, report.md, layers.png and report.html")
    add_preprocess_args(p)
    add_json_arg(p)
    p.set_defaults(handler=run)


def _short(name: str, width: int = 44) -> str:
    return name if len(name) <= width else "…" + name[-(width - 1):]


def _db(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    return "∞" if math.isinf(value) and value > 0 else f"{value:.{digits}f}"


def _shown(result: LayersResult, everything: bool) -> list[LayerRow]:
    if everything or len(result.rows) <= FULL_TABLE_ROWS:
        return result.rows
    keep = set(result.top) | {r.index for r in result.rows if r.is_output}
    for index in (result.first_below, result.device.first_departure if result.device else None):
        if index is not None:
            keep.add(index)
    for index in (result.device.first_op_departure if result.device else None,):
        if index is not None:
            keep.add(index)
    keep |= {r.index for r in result.rows if r.device and (r.device.alone_max_steps or 0) > 1}
    return [r for r in result.rows if r.index in keep]


CAUSE_SHORT = {"activation rounding": "rounding", "clipping": "clipping", "weights / arithmetic": "weights"}


def render(result: LayersResult, everything: bool) -> None:
    from rich.table import Table

    from onnpu.cli.console import escape, out

    console = out()
    rank = {index: k for k, index in enumerate(result.top, 1)}
    compared = result.reference is not None
    what = (f"{escape(result.reference or '')} vs {escape(result.quantized)}" if compared
            else escape(result.quantized))
    console.print(f"[bold]{what}[/] on {result.samples} inputs ({escape(result.input_source)}): {len(result.rows)} "
                  f"activations compared, {result.chunks} chunk(s), {result.seconds:.1f} s, peak RSS "
                  f"{result.peak_rss_mb:.0f} MB", soft_wrap=True)
    rows = _shown(result, everything)
    wide = console.width >= 130  # narrower terminals leave out lost dB and cosine (in --json and --report)
    columns = ["#", "tensor", "op"]
    if compared:
        columns += ["SQNR", "lost", "alone", "noise", "steps", "cos", "cause"] if wide else \
            ["SQNR", "alone", "noise", "steps", "cause"]
    if result.device:
        columns += ["NPU steps", "alone", "NPU ≠"] if compared else ["NPU steps", "op alone", "NPU ≠", "NPU SQNR"]
    widths = {"#": 3, "op": 9 if not wide else 18, "noise": 6, "cause": 8, "NPU ≠": 6}
    others = sum(max(widths.get(c, 5), len(c)) + 3 for c in columns if c != "tensor")
    name_width = max(14, min(48, console.width - others - 5))
    table = Table(title_justify="left", title=None if len(rows) == len(result.rows) else
                  f"{len(rows)} of {len(result.rows)} layers: the worst, the outputs, the first below the threshold "
                  "(--all: every one)")
    for col in columns:
        width = name_width if col == "tensor" else max(widths.get(col, 5), len(col))
        table.add_column(col, justify="left" if col in ("tensor", "op", "cause") else "right",
                         no_wrap=col != "tensor", overflow="fold" if col == "tensor" else "ellipsis",
                         min_width=width if col != "tensor" else min(name_width, 14), max_width=width)
    for r in rows:
        style = "red" if r.index == result.first_below else "yellow" if r.index in rank else ""
        cells = [str(r.index), escape(_short(r.name, 2 * name_width)), escape(r.op)]
        if compared:
            values = {"SQNR": _db(r.sqnr_db, 1), "lost": _db(r.lost_db, 1), "alone": _db(r.layer_sqnr_db, 1),
                      "noise": "-" if r.noise_share is None else f"{r.noise_share:.1%}",
                      "steps": "-" if r.max_error_steps is None else f"{r.max_error_steps:.1f}",
                      "cos": "-" if r.cosine is None else f"{r.cosine:.3f}",
                      "cause": CAUSE_SHORT.get(r.cause or "", "")}
            cells += [values[c] for c in columns if c in values]
        if result.device:
            d = r.device
            device = ["-", "-", "-"] if d is None else [
                str(d.max_steps), "-" if d.alone_max_steps is None else str(d.alone_max_steps),
                f"{d.differing_fraction:.1%}"]
            cells += device + ([] if compared else ["-" if d is None else _db(d.sqnr_db, 1)])
        table.add_row(*cells, style=style)
    console.print(table)
    if compared:
        lost = "lost: its inputs' SQNR minus its own; " if wide else ""
        console.print(f"[dim]SQNR: against the float model (dB); {lost}alone: the layer's own error (its float op "
                      "on the quantized inputs); noise: its estimated share of the output noise (ranks the layers, "
                      "yellow); steps: max error in its quantization steps[/]", soft_wrap=True)
        _summary(result)
    if result.device:
        _device(result)
    for note in result.notes:
        console.print(f"[yellow]{escape(note)}[/]", soft_wrap=True)


def _summary(result: LayersResult) -> None:
    from onnpu.cli.console import escape, out

    console = out()
    console.print(f"final output SQNR: {_db(result.final_sqnr_db)} dB")
    first = result.row(result.first_below)
    if first is None:
        console.print(f"[green]no layer falls below {result.threshold_db:g} dB[/]")
    else:
        console.print(f"[red]first layer below {result.threshold_db:g} dB:[/] #{first.index} {escape(first.name)} "
                      f"({escape(first.op)}, node {escape(first.node)}): {_db(first.sqnr_db)} dB", soft_wrap=True)
    if result.top:
        console.print(f"[bold]the {len(result.top)} layers that make the most of the output noise[/]:")
        for k, index in enumerate(result.top, 1):
            r = result.rows[index]
            share = f"{r.noise_share:.1%}" if r.noise_share is not None else "-"
            console.print(f"  {k:2d}. #{r.index} {escape(r.name)} ({escape(r.op)}): {share} of it, alone "
                          f"{_db(r.layer_sqnr_db, 1)} dB, mostly {r.cause or '-'}", soft_wrap=True)
    if result.by_op:
        ops = "; ".join(f"{o.op} ×{o.layers} {o.noise_share:.0%}" for o in result.by_op[:6])
        console.print(f"share of the output noise by op type: {escape(ops)}", soft_wrap=True)
    for advice in result.advice:
        console.print(f"[bold]what to do:[/] {escape(advice.text)}", soft_wrap=True)
        if advice.command:
            console.print(f"  $ {escape(advice.command)}", soft_wrap=True)


def _device(result: LayersResult) -> None:
    from onnpu.cli.console import escape, out

    device = result.device
    assert device is not None
    console = out()
    console.print(f"[bold]{escape(device.target)}[/], HTP arch {escape(device.htp_arch)}, {device.samples} inputs, "
                  f"against the exact CPU QDQ arithmetic", soft_wrap=True)
    first = result.row(device.first_departure)
    if first is None:
        console.print("[green]every tensor within one quantization step of the CPU[/]")
    else:
        assert first.device is not None
        console.print(f"[red]first tensor more than one step from the CPU:[/] #{first.index} {escape(first.name)} "
                      f"(node {escape(first.node)}, {escape(first.op)}): up to {first.device.max_steps} steps, "
                      f"{first.device.beyond_one_fraction:.2%} of its values", soft_wrap=True)
    op = result.row(device.first_op_departure)
    if op is not None and op.device is not None:
        console.print(f"[red]first op more than one step off on the CPU's own inputs:[/] #{op.index} "
                      f"{escape(op.name)} (node {escape(op.node)}, {escape(op.op)}): up to "
                      f"{op.device.alone_max_steps} steps", soft_wrap=True)
    elif first is not None:
        console.print("every op alone (fed the CPU's inputs) stays within one step: the departures build up from "
                      "one-step rounding differences that later layers amplify", soft_wrap=True)
    diff = result.row(device.first_difference)
    if diff is not None:
        console.print(f"first tensor not bit-equal: #{diff.index} {escape(diff.name)} ({escape(diff.op)})",
                      soft_wrap=True)
    match = ("identical" if device.outputs_match else
             f"differ by up to {device.outputs_max_steps:g} steps")
    console.print(f"final outputs with the extra outputs vs without: {match}; placement with them: "
                  f"{escape(device.placement)}", soft_wrap=True)
    console.print(f"[dim]{escape(device.note)}[/]", soft_wrap=True)


def run(args: argparse.Namespace) -> int:
    from onnpu.cli.console import err, escape, print_json
    from onnpu.cli.sources import local_model
    from onnpu.errors import OnnpuError
    from onnpu.guards import check_destination
    from onnpu.measure.layers.compare import DEFAULT_THRESHOLD_DB, compare_layers

    if args.report:  # before any work: never a link, file or special file
        check_destination(args.report, what="report", flag="--report", folder=True)

    if len(args.models) > 2:
        raise OnnpuError(f"layers takes one or two models, got {len(args.models)}",
                         hint="onnpu layers FLOAT.onnx QUANT.onnx [--target npu]")
    require_images(args, args.inputs, "--inputs")
    require_random(args, args.inputs, "--inputs", values=False)  # --input-value fills what files lack
    if len(args.models) == 1 and given(args, "threshold", "top"):
        refuse(args, f"{', '.join(given(args, 'threshold', 'top'))}: rank layers against a float model, and only "
                     "the quantized model was given")
    models = [str(local_model(m)) for m in args.models]
    reference, quantized = (models[0], models[1]) if len(models) == 2 else (None, models[0])
    result = compare_layers(reference, quantized, inputs=args.inputs, count=args.count, target=target_from(args),
                            threshold_db=DEFAULT_THRESHOLD_DB if args.threshold is None else args.threshold,
                            top=10 if args.top is None else args.top, preprocess=preprocess_from(args),
                            dims=parse_dims(args.dim), seed=args.seed, cache=not args.no_cache, max_mb=args.max_mb,
                            input_ranges=input_ranges_from(args))
    if args.report:
        from onnpu.measure.layers.report import write_layers_report

        written = write_layers_report(result, args.report)
        err().print(f"wrote {escape(', '.join(str(p) for p in written))}", soft_wrap=True)
    if args.json:
        print_json(result.to_dict())
    else:
        render(result, args.all)
    return 0
