"""``onnpu simplify MODEL -o OUT [--input x=1,3,640,640] [--input-value sr=16000]``: constant folding,
shape-computation elimination, dead-node removal (OnnxSlim), proven unchanged against the original."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from onnpu.cli.args import (
    add_json_arg,
    add_shape_args,
    add_value_arg,
    given,
    input_values,
    non_negative_int,
    parse_dims,
    positive_int,
    refuse,
    shape_specs,
)

if TYPE_CHECKING:
    from onnpu.tasks.simplify import SimplifyResult


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simplify", help="fold constants and shape computations, drop dead nodes and resolved Ifs "
                       "(OnnxSlim); outputs checked against the original")
    p.add_argument("model", help="ONNX model file")
    p.add_argument("-o", "--output", required=True, help="where to write the simplified model")
    add_shape_args(p)
    add_value_arg(p)
    p.add_argument("--skip-fusion", action="append", default=[], metavar="PATTERN",
                   help="an OnnxSlim fusion pattern to leave out, e.g. FusionConvTransposeBN (repeatable)")
    p.add_argument("--inputs", type=positive_int, help="random inputs the outputs are compared on (default 2)")
    p.add_argument("--seed", type=non_negative_int, help="seed of those inputs (default 0)")
    p.add_argument("--no-verify", action="store_true", help="do not compare the outputs with the original")
    p.add_argument("--force", action="store_true", help="allow -o to replace the input file")
    add_json_arg(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from onnpu.cli.console import escape, out, print_json
    from onnpu.cli.sources import local_model
    from onnpu.tasks.simplify import simplify

    if args.no_verify and given(args, "inputs", "seed"):
        refuse(args, f"{', '.join(given(args, 'inputs', 'seed'))}: nothing is compared with --no-verify")
    args.model = local_model(args.model)
    result = simplify(args.model, args.output, dims=parse_dims(args.dim), shapes=shape_specs(args.input),
                      values=input_values(args.input_value), verify=not args.no_verify, inputs=args.inputs or 2,
                      seed=args.seed or 0, skip_fusions=args.skip_fusion, force=args.force)
    if args.json:
        print_json(result.to_dict())
        return 0
    render(result)
    out().print(f"[green]wrote {escape(str(result.output))}[/]")
    return 0


def render(result: SimplifyResult) -> None:
    from onnpu.cli.console import escape, out

    for change in result.baked + result.shape_changes:
        out().print(f"  {escape(change)}", soft_wrap=True)
    out().print(f"simplified ({result.stats.library}): {escape(result.stats.describe())}", soft_wrap=True)
    for check in result.checks:
        if check.values == 0:  # e.g. a detector ending in NMS keeps no box of random inputs
            out().print(f"  {escape(check.name)}: empty on the {result.inputs_checked} random inputs: nothing to "
                        "compare (run both models on real inputs: `onnpu compare`)", soft_wrap=True)
            continue
        out().print(f"  {escape(check.name)}: max |simplified − original| = {check.max_abs_error:.3g} "
                    f"(outputs up to {check.max_abs_reference:.3g}) on {result.inputs_checked} random inputs",
                    soft_wrap=True)
    for note in result.notes:
        out().print(f"note: {escape(note)}", soft_wrap=True)
