"""``onnpu quantize MODEL -o OUT --calib SOURCE``: QDQ for the HTP, with a quality report."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from onnpu.cli.args import (
    add_input_range_args,
    add_json_arg,
    add_quantize_args,
    add_soc_arg,
    input_ranges_from,
    preprocess_from,
    quantize_config_from,
    refuse,
    require_images,
    require_random,
)

NPU_SAMPLES_TEXT = "4"  # onnpu.quantization.evaluate.NPU_QUALITY_SAMPLES (not imported: the CLI starts fast)

if TYPE_CHECKING:
    from onnpu.metrics import OutputQuality
    from onnpu.quantization.pipeline import QuantizeResult


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quantize", help="quantize to QDQ for the QNN HTP, with a quality report on held-out data")
    p.add_argument("model", help="float ONNX model with fixed shapes")
    p.add_argument("-o", "--output", required=True, help="where to write the quantized model")
    add_quantize_args(p)
    add_input_range_args(p)
    add_soc_arg(p)
    p.add_argument("--no-npu", action="store_true", help="skip the quality check on the SoC's NPU (emulated HTP: "
                   f"a few seconds for {NPU_SAMPLES_TEXT} held-out inputs)")
    add_json_arg(p)
    p.set_defaults(handler=run)


def _quality_table(title: str, items: list[OutputQuality]) -> None:
    from rich.table import Table

    from onnpu.cli.console import escape, out

    table = Table(title=title, title_justify="left")
    for col in ("output", "SQNR dB", "cosine", "task figure", "floor"):
        table.add_column(col, justify="right" if col in ("SQNR dB", "cosine") else "left")
    for q in items:
        below = q.below_floor()
        table.add_row(escape(q.name), f"{q.sqnr_db:.2f}", q.cosine_text(), escape(q.task_figure()),
                      f"[yellow]below: {escape(below)}[/]" if below else "ok")
    out().print(table)


def render_quality(result: QuantizeResult, *, float_model: str = "FLOAT.onnx") -> None:
    """The quality report: a random calibration said first; float vs CPU QDQ and vs the NPU; warnings."""
    from onnpu.cli.console import escape, out
    from onnpu.cli.render import device_word
    from onnpu.quantization.trust import floor_warnings

    check = result.calibration_check
    if check is not None and check.first_line:
        out().print(f"[bold yellow]{escape(check.first_line)}[/]", soft_wrap=True)
    random = check is not None and check.random
    what = "agreement (random data, not quality)" if random else "quality"
    _quality_table(f"{what}: float vs CPU QDQ arithmetic on {result.heldout_count} held-out inputs (calibrated on "
                   f"{result.calibration_count})", result.quality)
    npu = result.npu_quality
    if npu is not None:
        if npu.problem:
            out().print(f"[yellow]float vs {device_word(npu.target)} ({escape(npu.target)}): not measured: "
                        f"{escape(npu.problem)}[/]",
                        soft_wrap=True)
        else:
            _quality_table(f"{what}: float vs {device_word(npu.target)} ({npu.target}) on {npu.samples} held-out inputs"
                           + (f"; {npu.placement}" if npu.placement else ""), npu.outputs)
    if result.target_sqnr is not None:
        for i, step in enumerate(result.steps, 1):
            out().print(f"  round {i}: {len(step.raised)} activations at uint16 → {step.sqnr_db:.2f} dB")
        if result.sixteen_bit:
            out().print(f"  uint16 activations: {', '.join(result.sixteen_bit)}", soft_wrap=True)
        if result.mixed_cost is not None:
            out().print(f"  cost: {result.mixed_cost:.0%} of the activation elements at 16 bits (ranked by measured "
                        "gain per element)")
        if result.plain_bytes:
            out().print(f"  model size {result.plain_bytes / 1e6:.2f} MB → {result.quantized_bytes / 1e6:.2f} MB")
    if result.ranges is not None and result.ranges.tensors:
        r = result.ranges
        out().print(f"  range search: {r.changed} of {len(r.tensors)} activation ranges narrowed ({r.seconds:.1f} s)"
                    + ("" if r.kept else ", not kept (not better on the check inputs)"))
    if result.rounding is not None and not result.rounding.layers:
        out().print(f"  optimized rounding: {escape('; '.join(result.rounding.notes))}", soft_wrap=True)
    elif result.rounding is not None and result.nearest_quality:
        before = min(q.sqnr_db for q in result.nearest_quality)
        rounding = result.rounding
        out().print(f"  optimized rounding ({rounding.method}, {len(rounding.layers)} layers, "
                    f"{rounding.seconds:.1f} s, "
                    f"{rounding.kept_nearest} kept nearest as measured better or not reached): layer output error "
                    f"÷{rounding.improvement:.2f}; SQNR {before:.2f} → {result.worst_sqnr:.2f} dB")
    if check is not None:
        summary = check.clipping_summary()
        if summary:
            out().print(escape(summary), soft_wrap=True)
        for warning in check.warnings:
            out().print(f"[yellow]warning: {escape(warning)}[/]", soft_wrap=True)
    for warning in floor_warnings(result.quality, npu.outputs if npu else [], float_model=float_model,
                                  quant_model=result.output, activations=result.config.activations):
        out().print(f"[yellow]warning: {escape(warning)}[/]", soft_wrap=True)
    for note in result.notes:
        out().print(f"[yellow]{escape(note)}[/]", soft_wrap=True)


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
    from onnpu.runtime.targets import get_target

    require_images(args, args.calib, "--calib")
    require_random(args, args.calib, "--calib")
    if args.no_npu and args.soc:
        refuse(args, "--soc: names the NPU of the quality check, and --no-npu skips it")
    args.model = local_model(args.model)
    npu = None if args.no_npu else get_target("npu", soc=args.soc)
    result = quantize(args.model, args.output, args.calib, config=quantize_config_from(args), io=args.io,
                      preprocess=preprocess_from(args), holdout=args.holdout, limit=args.limit, seed=args.seed,
                      target_sqnr=args.target_sqnr, force=args.force, jobs=args.jobs or 1, npu=npu,
                      input_ranges=input_ranges_from(args))
    if args.json:
        print_json(result.to_dict())
        return exit_code(result)
    render_quality(result, float_model=str(args.model))
    out().print(f"[green]wrote {result.output}[/] ({result.quantized_bytes / 1e6:.2f} MB, "
                f"float {result.float_bytes / 1e6:.2f} MB) in {result.seconds:.1f} s")
    return exit_code(result)
