"""``onnpu prepare MODEL -o OUT --calib SOURCE``: fix shapes → quantize → verify on the NPU → report."""

from __future__ import annotations

import argparse

from onnpu.cli.args import (
    add_json_arg,
    add_quantize_args,
    add_shape_args,
    add_target_args,
    parse_dims,
    preprocess_from,
    quantize_config_from,
    shape_specs,
    target_from,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="fix shapes, quantize, fit the SoC's HTP and verify on its NPU (no "
                       "fallback), one step")
    p.add_argument("model", help="ONNX model: float (dynamic shapes allowed with --dim/--input) or already quantized")
    p.add_argument("-o", "--output", required=True, help="where to write the NPU-ready model")
    add_shape_args(p)
    add_target_args(p, "npu", fallback=False, cache=False, dims=False)
    p.add_argument("--no-verify", action="store_true", help="skip the NPU verification")
    add_quantize_args(p, calib_required=False)
    add_json_arg(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from onnpu.cli.cmd_quantize import render_quality
    from onnpu.cli.console import escape, out, print_json
    from onnpu.cli.progress import progress_bar
    from onnpu.cli.sources import local_model
    from onnpu.tasks.prepare import prepare

    args.model = local_model(args.model)
    with progress_bar(not args.json) as progress:
        result = prepare(args.model, args.output, args.calib, dims=parse_dims(args.dim),
                         shapes=shape_specs(args.input), config=quantize_config_from(args), io=args.io,
                         preprocess=preprocess_from(args), holdout=args.holdout, limit=args.limit, seed=args.seed,
                         target_sqnr=args.target_sqnr, target=target_from(args), verify=not args.no_verify,
                         force=args.force, progress=progress)
    if args.json:
        print_json(result.to_dict())
        return 0
    if result.shapes:
        out().print("shapes: " + escape("; ".join(result.shapes.changes)))
    if result.quantization:
        render_quality(result.quantization)
    for note in result.notes:
        out().print(f"note: {escape(note)}", soft_wrap=True)
    for rewrite in result.rewrites:
        out().print(f"rewrite: {escape(rewrite)}; outputs unchanged on the exact CPU arithmetic "
                    f"(max |diff| {result.rewrite_max_abs_diff:.3g})", soft_wrap=True)
    if result.npu:
        out().print(f"[green]NPU check ({result.npu.target}, CPU fallback disabled): "
                    f"{result.npu.placement.headline()}[/]", soft_wrap=True)
        out().print(f"  session {result.npu.session_seconds:.2f} s, run {result.npu.run_ms:.1f} ms, "
                    f"max |NPU − exact CPU QDQ| = {result.npu.max_abs_diff_vs_cpu_exact:.4g}")
    out().print(f"[green]wrote {result.output}[/]")
    return 0
