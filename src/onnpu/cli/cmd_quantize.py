"""``onnpu quantize MODEL -o OUT --calib SOURCE``: QDQ for the HTP, with a quality report."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from onnpu.cli.args import add_json_arg, add_quantize_args, preprocess_from, quantize_config_from, require_images

if TYPE_CHECKING:
    from onnpu.quantization.pipeline import QuantizeResult


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quantize", help="quantize to QDQ for the QNN HTP, with a quality report on held-out data")
    p.add_argument("model", help="float ONNX model with fixed shapes")
    p.add_argument("-o", "--output", required=True, help="where to write the quantized model")
    add_quantize_args(p)
    add_json_arg(p)
    p.set_defaults(handler=run)


def render_quality(result: QuantizeResult) -> None:
    from rich.table import Table

    from onnpu.cli.console import out

    table = Table(title=f"quality on {result.heldout_count} held-out inputs (calibrated on "
                        f"{result.calibration_count})", title_justify="left")
    for col in ("output", "SQNR dB", "max |err|", "cosine", "top-1 agree", "top-5 overlap"):
        table.add_column(col, justify="right" if col != "output" else "left")
    for q in result.quality:
        table.add_row(q.name, f"{q.sqnr_db:.2f}", f"{q.max_abs_error:.4g}", f"{q.cosine:.5f}",
                      "-" if q.top1_agreement is None else f"{q.top1_agreement:.1%}",
                      "-" if q.top5_overlap is None else f"{q.top5_overlap:.1%}")
    out().print(table)
    if result.target_sqnr is not None:
        for i, step in enumerate(result.steps, 1):
            out().print(f"  round {i}: {len(step.raised)} activations at uint16 → {step.sqnr_db:.2f} dB")
        if result.sixteen_bit:
            out().print(f"  uint16 activations: {', '.join(result.sixteen_bit)}", soft_wrap=True)
        if result.plain_bytes:
            out().print(f"  model size {result.plain_bytes / 1e6:.2f} MB → {result.quantized_bytes / 1e6:.2f} MB")
    if result.rounding is not None and result.nearest_quality:
        before = min(q.sqnr_db for q in result.nearest_quality)
        rounding = result.rounding
        out().print(f"  optimized rounding ({rounding.method}, {len(rounding.layers)} layers, "
                    f"{rounding.seconds:.1f} s, "
                    f"{rounding.kept_nearest} kept nearest as measured better or not reached): layer output error "
                    f"÷{rounding.improvement:.2f}; SQNR {before:.2f} → {result.worst_sqnr:.2f} dB")
    for note in result.notes:
        out().print(f"[yellow]{note}[/]")


def exit_code(result: QuantizeResult | None) -> int:
    """4 (quality) when --target-sqnr was set and the held-out SQNR stays below it, else 0."""
    from onnpu.errors import ExitCode

    if result is None or result.target_sqnr is None or not result.quality:
        return int(ExitCode.OK)
    return int(ExitCode.OK if result.worst_sqnr >= result.target_sqnr else ExitCode.QUALITY)


def run(args: argparse.Namespace) -> int:
    from onnpu.cli.console import out, print_json
    from onnpu.cli.sources import local_model
    from onnpu.quantization.pipeline import quantize

    require_images(args, args.calib, "--calib")
    args.model = local_model(args.model)
    result = quantize(args.model, args.output, args.calib, config=quantize_config_from(args), io=args.io,
                      preprocess=preprocess_from(args), holdout=args.holdout, limit=args.limit, seed=args.seed,
                      target_sqnr=args.target_sqnr, force=args.force, jobs=args.jobs or 1)
    if args.json:
        print_json(result.to_dict())
        return exit_code(result)
    render_quality(result)
    out().print(f"[green]wrote {result.output}[/] ({result.quantized_bytes / 1e6:.2f} MB, "
                f"float {result.float_bytes / 1e6:.2f} MB) in {result.seconds:.1f} s")
    return exit_code(result)
