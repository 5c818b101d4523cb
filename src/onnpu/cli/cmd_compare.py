"""``onnpu compare A [B]``: output drift between two models, or one model on two targets."""

from __future__ import annotations

import argparse

from onnpu.cli.args import (
    add_input_range_args,
    add_json_arg,
    add_preprocess_args,
    add_target_args,
    input_ranges_from,
    non_negative_int,
    parse_dims,
    positive_int,
    preprocess_from,
    require_images,
    require_random,
    targets_from,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="how much outputs differ: two models, or one model on two targets")
    p.add_argument("reference", help="reference model")
    p.add_argument("candidate", nargs="?", help="model to compare (default: the reference on the second target)")
    add_target_args(p, None, many=True, flag="--targets", fallback=False,
                    what="the reference's and the candidate's targets, comma-separated; one target for both when two "
                         "models are given (default: cpu,cpu for two models, cpu,npu for one)")
    p.add_argument("--inputs", default="random", help="folder of images, .npz, or random (default)")
    p.add_argument("--count", type=positive_int, default=8, help="inputs to use (default 8)")
    p.add_argument("--seed", type=non_negative_int, default=0)
    add_input_range_args(p)
    add_preprocess_args(p)
    add_json_arg(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from onnpu.cli.console import escape, out, print_json
    from onnpu.cli.sources import local_model
    from onnpu.measure.compare import compare

    require_images(args, args.inputs, "--inputs")
    require_random(args, args.inputs, "--inputs", values=False)  # --input-value fills what files lack
    args.reference = local_model(args.reference)
    args.candidate = local_model(args.candidate)
    if args.candidate and args.target and "," not in args.target:
        args.target = f"{args.target},{args.target}"  # two models, one target: both run on it
    ta, tb = targets_from(args, "cpu,cpu" if args.candidate else "cpu,npu", count=2)
    result = compare((args.reference, ta), (args.candidate or args.reference, tb), inputs=args.inputs,
                     count=args.count, preprocess=preprocess_from(args), dims=parse_dims(args.dim), seed=args.seed,
                     cache=not args.no_cache, input_ranges=input_ranges_from(args))
    if args.json:
        print_json(result.to_dict())
        return 0
    table = Table(title=f"{escape(result.candidate)} against {escape(result.reference)} on {result.samples} inputs "
                        f"({escape(result.input_source)})", title_justify="left")
    if result.random_inputs:
        out().print(f"[bold]random inputs, not real data[/]: {escape(result.random_inputs)}", soft_wrap=True)
    for col in ("output", "SQNR dB", "max |err|", "mean |err|", "max steps", "cosine", "task figure"):
        table.add_column(col, justify="left" if col == "output" else "right")
    for o in result.outputs:
        table.add_row(escape(o.name), f"{o.sqnr_db:.2f}", f"{o.max_abs_error:.4g}", f"{o.mean_abs_error:.4g}",
                      "-" if o.max_steps is None else f"{o.max_steps:.2f}", o.cosine_text(),
                      escape(o.task_figure()))
    out().print(table)
    for side, headline in result.placements.items():
        out().print(f"{side}: {escape(headline)}", soft_wrap=True)
    for name, why in result.skipped.items():
        out().print(f"note: output {escape(name)} not compared: {escape(why)}", soft_wrap=True)
    return 0
