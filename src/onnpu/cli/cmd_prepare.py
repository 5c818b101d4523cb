"""``onnpu prepare MODEL -o OUT --calib SOURCE``: fix shapes → quantize → verify on the NPU → report."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from onnpu.cli.args import (
    add_input_range_args,
    add_json_arg,
    add_quantize_args,
    add_shape_args,
    add_target_args,
    add_value_arg,
    given,
    input_ranges_from,
    input_values,
    parse_dims,
    positive_int,
    preprocess_from,
    quantize_config_from,
    refuse,
    require_images,
    require_random,
    shape_specs,
    target_from,
)

if TYPE_CHECKING:
    from onnpu.tasks.npu_check import NpuCheck


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="fix shapes, simplify, quantize, fit the SoC's HTP and verify on its NPU "
                       "(no fallback), one step")
    p.add_argument("model", help="ONNX model: float (dynamic shapes allowed with --dim/--input) or already quantized")
    p.add_argument("-o", "--output", required=True, help="where to write the NPU-ready model")
    add_shape_args(p)
    add_value_arg(p)
    p.add_argument("--no-simplify", action="store_true", help="quantize the model as it is, without simplifying it "
                   "first (constant folding, shape computations, resolved Ifs)")
    add_target_args(p, "npu", fallback=False, cache=False, dims=False)
    p.add_argument("--no-verify", action="store_true", help="skip the NPU verification")
    p.add_argument("--verify-inputs", type=positive_int,
                   help="held-out inputs the NPU is checked on, against the exact CPU arithmetic and the float "
                   "model (default 4; 1 random input for a model that came quantized)")
    add_quantize_args(p, calib_required=False)
    add_input_range_args(p, value=False)
    add_json_arg(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from onnpu.cli.cmd_quantize import exit_code, render_quality
    from onnpu.cli.console import escape, out, print_json
    from onnpu.cli.sources import local_model
    from onnpu.tasks.prepare import prepare

    require_images(args, args.calib, "--calib")
    require_random(args, args.calib, "--calib", values=False)
    if args.no_verify and given(args, "verify_inputs"):
        refuse(args, "--verify-inputs: nothing is verified with --no-verify")
    args.model = local_model(args.model)
    result = prepare(args.model, args.output, args.calib, dims=parse_dims(args.dim),
                     shapes=shape_specs(args.input), values=input_values(args.input_value),
                     simplify=not args.no_simplify, config=quantize_config_from(args), io=args.io,
                     preprocess=preprocess_from(args), holdout=args.holdout, limit=args.limit, seed=args.seed,
                     target_sqnr=args.target_sqnr, target=target_from(args), verify=not args.no_verify,
                     verify_inputs=args.verify_inputs, force=args.force,
                     input_ranges=input_ranges_from(args, values=False))
    if args.json:
        print_json(result.to_dict())
        return exit_code(result.quantization)
    if result.shapes:
        out().print("shapes: " + escape("; ".join(result.shapes.changes)), soft_wrap=True)
    if result.simplified:
        s = result.simplified
        compared = [c for c in s.checks if c.values != 0]  # an output empty on random inputs compares nothing
        empty = [c.name for c in s.checks if c.values == 0]
        check = (f"; outputs unchanged: max |diff| {max(c.max_abs_error for c in compared):.3g} on "
                 f"{s.inputs_checked} random inputs" if compared else "") + \
            (f"; {', '.join(empty)} empty on the random inputs: not compared" if empty else "")
        out().print(f"simplified ({s.stats.library}): {escape(s.stats.describe())}{check}", soft_wrap=True)
    if result.quantization:
        render_quality(result.quantization, float_model=str(args.model))
    for rewrite in result.rewrites:
        out().print(f"rewrite: {escape(rewrite)}; outputs unchanged on the exact CPU arithmetic "
                    f"(max |diff| {result.rewrite_max_abs_diff:.3g})", soft_wrap=True)
    if result.npu:
        render_npu_check(result.npu)
        line = npu_detections_line((result.quantization.detection or {}) if result.quantization else {})
        if line:
            out().print(escape(line), soft_wrap=True)
    for note in result.notes:
        out().print(f"note: {escape(note)}", soft_wrap=True)
    out().print(f"[green]wrote {result.output}[/]")
    return exit_code(result.quantization)


def npu_detections_line(detection: dict[str, Any]) -> str | None:
    """A detector's boxes on the NPU against the float model's, in one line (``detection["npu"]``), or None."""
    found = detection.get("npu")
    if not found:
        return None
    median, at_640, worst = (found.get(k) for k in ("median_box_error_px", "median_box_error_px_at_640",
                                                    "max_box_error_px"))
    inputs = int(found.get("inputs") or 0)
    where = f" on {inputs} input{'s' if inputs != 1 else ''}" if inputs else ""
    error = "no box to measure" if median is None else \
        f"box error median {median:.2f} px ({at_640:.2f} px at 640), max {worst:.2f} px"
    return (f"  detections on the NPU vs the float model{where}: {found['matched']} matched, {found['missed']} "
            f"missed, {found['extra']} extra; {error}")


def render_npu_check(npu: NpuCheck) -> None:
    from rich.table import Table

    from onnpu.cli.console import escape, out
    from onnpu.cli.render import device_word
    from onnpu.tasks.npu_check import DRIFT_FLAG_STEPS

    device = device_word(npu.target)
    out().print(f"[green]{device} check ({npu.target}, CPU fallback disabled): {npu.placement.headline()}[/]",
                soft_wrap=True)
    out().print(f"  session {npu.session_seconds:.2f} s, run {npu.run_ms:.1f} ms; {device} vs exact CPU QDQ arithmetic "
                f"on {escape(npu.inputs_source)}, per output in quantization steps:", soft_wrap=True)
    table = Table()
    for col in ("output", f"max |{device} − CPU|", "step", "max steps", "mean steps", "beyond flag", ""):
        table.add_column(col, justify="left" if col in ("output", "") else "right")
    for o in npu.outputs:
        steps = "-" if o.steps is None else f"{o.steps:.2f}" + (" (integer)" if o.kind == "integer" else "")
        flag = f"[yellow]beyond {o.flag_steps:g} steps[/]" if o.flagged else \
            (f"ok (flag: {o.flag_steps:g} steps)" if o.flag_steps != DRIFT_FLAG_STEPS else "ok") \
            if o.steps is not None else "float output"
        table.add_row(escape(o.name), f"{o.max_abs_diff:.4g}", "-" if o.step is None else f"{o.step:.4g}", steps,
                      "-" if o.mean_steps is None else f"{o.mean_steps:.3f}",
                      "-" if o.share_beyond is None else f"{o.share_beyond:.2%}", flag)
    out().print(table)
