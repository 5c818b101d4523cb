"""``onnpu prepare MODEL -o OUT --calib SOURCE``: fix shapes → quantize → verify on the NPU → report."""

from __future__ import annotations

import argparse

from rich.markup import escape

from onnpu.cli.cmd_classify import preprocess_from
from onnpu.cli.cmd_fix_shapes import shape_specs
from onnpu.cli.cmd_quantize import add_quantize_args, config_from, render_quality
from onnpu.cli.common import add_json_arg, console, local_model, parse_dims, print_json, target_from
from onnpu.cli.progress import progress_bar
from onnpu.preparation import prepare


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="fix shapes, quantize and verify on the NPU (fallback disabled), one step")
    p.add_argument("model", help="float ONNX model (dynamic shapes allowed with --dim/--input)")
    p.add_argument("-o", "--output", required=True, help="where to write the NPU-ready model")
    p.add_argument("--dim", action="append", default=[], metavar="NAME=VALUE", help="fix a symbolic dim")
    p.add_argument("--input", action="append", default=[], metavar="NAME=D0,D1,...", help="fix an input shape")
    p.add_argument("--target", default="npu", help="target to verify on (default npu)")
    p.add_argument("--ep-option", action="append", default=[], metavar="KEY=VALUE", help="provider option")
    p.add_argument("--no-verify", action="store_true", help="skip the NPU verification")
    add_quantize_args(p)
    add_json_arg(p)
    p.set_defaults(handler=run, no_fallback=False)


def run(args: argparse.Namespace) -> int:
    args.model = local_model(args.model)
    with progress_bar(not args.json) as progress:
        result = prepare(args.model, args.output, args.calib, dims=parse_dims(args.dim),
                         shapes=shape_specs(args.input), config=config_from(args), io=args.io,
                         preprocess=preprocess_from(args), holdout=args.holdout, limit=args.limit, seed=args.seed,
                         target_sqnr=args.target_sqnr, target=target_from(args), verify=not args.no_verify,
                         force=args.force, progress=progress)
    if args.json:
        print_json(result.to_dict())
        return 0
    if result.shapes:
        console.print("shapes: " + escape("; ".join(result.shapes.changes)))
    render_quality(result.quantization)
    if result.npu:
        console.print(f"[green]NPU check ({result.npu.target}, CPU fallback disabled): "
                      f"{result.npu.placement.headline()}[/]", soft_wrap=True)
        console.print(f"  session {result.npu.session_seconds:.2f} s, run {result.npu.run_ms:.1f} ms, "
                      f"max |NPU − exact CPU QDQ| = {result.npu.max_abs_diff_vs_cpu_exact:.4g}")
    console.print(f"[green]wrote {result.output}[/]")
    return 0
