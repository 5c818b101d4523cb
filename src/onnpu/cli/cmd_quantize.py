"""``onnpu quantize MODEL -o OUT --calib SOURCE``: QDQ for the HTP, with a quality report."""

from __future__ import annotations

import argparse

from rich.table import Table

from onnpu.cli.cmd_classify import add_preprocess_args, preprocess_from
from onnpu.cli.common import add_json_arg, console, local_model, print_json
from onnpu.cli.progress import progress_bar
from onnpu.quantization import ACTIVATION_TYPES, DEFAULT_QUANTIZE, METHODS, WEIGHT_TYPES, QuantizeConfig
from onnpu.quantizing import QuantizeResult, quantize


def add_quantize_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--calib", required=True, help="folder of images, .npz of input arrays, or `random`")
    p.add_argument("--activations", choices=tuple(ACTIVATION_TYPES), default="u8", help="activation type (u8)")
    p.add_argument("--weights", choices=tuple(WEIGHT_TYPES), default="i8", help="weight type (i8)")
    p.add_argument("--per-channel", action=argparse.BooleanOptionalAction, default=True,
                   help="per-channel weights (default on)")
    p.add_argument("--method", choices=tuple(METHODS), default="minmax", help="calibration method (minmax)")
    p.add_argument("--io", choices=("float", "uint8"), default="float",
                   help="uint8: quantized inputs/outputs (parameters kept in the model)")
    p.add_argument("--holdout", type=float, default=0.2, help="share of inputs held out for the quality report")
    p.add_argument("--limit", type=int, help="use at most this many inputs")
    p.add_argument("--seed", type=int, default=0, help="seed for the split and random data")
    p.add_argument("--target-sqnr", type=float, metavar="DB", help="raise sensitive activations to uint16 until met")
    p.add_argument("--rounding", choices=("nearest", "optimized"), default=DEFAULT_QUANTIZE.rounding,
                   help="weight rounding: nearest, or optimized (second-order, per layer, on the calibration "
                        f"inputs); default {DEFAULT_QUANTIZE.rounding}")
    p.add_argument("--no-bias-correction", action="store_true", help="with --rounding optimized: keep biases")
    p.add_argument("--jobs", type=int, default=1, help="layers rounded in parallel (default 1)")
    p.add_argument("--force", action="store_true", help="allow -o to replace the input file")
    add_preprocess_args(p)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quantize", help="quantize to QDQ for the QNN HTP, with a quality report on held-out data")
    p.add_argument("model", help="float ONNX model with fixed shapes")
    p.add_argument("-o", "--output", required=True, help="where to write the quantized model")
    add_quantize_args(p)
    add_json_arg(p)
    p.set_defaults(handler=run)


def config_from(args: argparse.Namespace) -> QuantizeConfig:
    return QuantizeConfig(args.activations, args.weights, args.per_channel, args.method, args.rounding,
                          not args.no_bias_correction)


def render_quality(result: QuantizeResult) -> None:
    table = Table(title=f"quality on {result.heldout_count} held-out inputs (calibrated on "
                        f"{result.calibration_count})", title_justify="left")
    for col in ("output", "SQNR dB", "max |err|", "cosine", "top-1 agree", "top-5 overlap"):
        table.add_column(col, justify="right" if col != "output" else "left")
    for q in result.quality:
        table.add_row(q.name, f"{q.sqnr_db:.2f}", f"{q.max_abs_error:.4g}", f"{q.cosine:.5f}",
                      "-" if q.top1_agreement is None else f"{q.top1_agreement:.1%}",
                      "-" if q.top5_overlap is None else f"{q.top5_overlap:.1%}")
    console.print(table)
    if result.target_sqnr is not None:
        for i, step in enumerate(result.steps, 1):
            console.print(f"  round {i}: {len(step.raised)} activations at uint16 → {step.sqnr_db:.2f} dB")
        if result.sixteen_bit:
            console.print(f"  uint16 activations: {', '.join(result.sixteen_bit)}", soft_wrap=True)
        if result.plain_bytes:
            console.print(f"  model size {result.plain_bytes / 1e6:.2f} MB → {result.quantized_bytes / 1e6:.2f} MB")
    if result.rounding is not None and result.nearest_quality:
        before = min(q.sqnr_db for q in result.nearest_quality)
        console.print(f"  optimized rounding ({result.rounding.method}, {len(result.rounding.layers)} layers, "
                      f"{result.rounding.seconds:.1f} s): layer output error ÷{result.rounding.improvement:.2f}; "
                      f"SQNR {before:.2f} → {result.worst_sqnr:.2f} dB")
    for note in result.notes:
        console.print(f"[yellow]{note}[/]")


def run(args: argparse.Namespace) -> int:
    args.model = local_model(args.model)
    with progress_bar(not args.json) as progress:
        result = quantize(args.model, args.output, args.calib, config=config_from(args), io=args.io,
                          preprocess=preprocess_from(args), holdout=args.holdout, limit=args.limit, seed=args.seed,
                          target_sqnr=args.target_sqnr, force=args.force, progress=progress, jobs=args.jobs)
    if args.json:
        print_json(result.to_dict())
        return 0
    render_quality(result)
    console.print(f"[green]wrote {result.output}[/] ({result.quantized_bytes / 1e6:.2f} MB, "
                  f"float {result.float_bytes / 1e6:.2f} MB) in {result.seconds:.1f} s")
    return 0
