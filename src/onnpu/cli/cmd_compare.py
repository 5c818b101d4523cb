"""``onnpu compare A [B]``: output drift between two models, or one model on two targets."""

from __future__ import annotations

import argparse

from rich.markup import escape
from rich.table import Table

from onnpu.cli.cmd_classify import add_preprocess_args, preprocess_from
from onnpu.cli.common import add_json_arg, console, local_model, parse_dims, print_json
from onnpu.comparison import compare
from onnpu.errors import TargetError
from onnpu.qnn_options import parse_option
from onnpu.targets import get_target


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="how much outputs differ: two models, or one model on two targets")
    p.add_argument("reference", help="reference model")
    p.add_argument("candidate", nargs="?", help="model to compare (default: the reference on the second target)")
    p.add_argument("--targets", default=None,
                   help="REF,CAND targets (default cpu,npu for one model; cpu,cpu for two)")
    p.add_argument("--ep-option", action="append", default=[], metavar="KEY=VALUE", help="QNN provider option")
    p.add_argument("--inputs", default="random", help="folder of images, .npz, or random (default)")
    p.add_argument("--count", type=int, default=8, help="inputs to use (default 8)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dim", action="append", default=[], metavar="NAME=VALUE", help="fix a symbolic dim")
    p.add_argument("--no-cache", action="store_true", help="do not use the NPU context cache")
    add_preprocess_args(p)
    add_json_arg(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    args.reference = local_model(args.reference)
    args.candidate = local_model(args.candidate)
    names = (args.targets or ("cpu,cpu" if args.candidate else "cpu,npu")).split(",")
    if len(names) != 2:
        raise TargetError(f"--targets {args.targets!r} must name two targets", hint="e.g. --targets cpu,npu")
    options = dict(parse_option(o) for o in args.ep_option)
    ta, tb = (get_target(n, options if n.strip().lower() != "cpu" else None) for n in names)
    result = compare((args.reference, ta), (args.candidate or args.reference, tb), inputs=args.inputs,
                     count=args.count, preprocess=preprocess_from(args), dims=parse_dims(args.dim), seed=args.seed,
                     cache=not args.no_cache)
    if args.json:
        print_json(result.to_dict())
        return 0
    table = Table(title=f"{escape(result.candidate)} against {escape(result.reference)} on {result.samples} inputs "
                        f"({escape(result.input_source)})", title_justify="left")
    for col in ("output", "SQNR dB", "max |err|", "mean |err|", "cosine", "top-1", "top-5"):
        table.add_column(col, justify="left" if col == "output" else "right")
    for o in result.outputs:
        table.add_row(escape(o.name), f"{o.sqnr_db:.2f}", f"{o.max_abs_error:.4g}", f"{o.mean_abs_error:.4g}",
                      f"{o.cosine:.5f}", "-" if o.top1_agreement is None else f"{o.top1_agreement:.0%}",
                      "-" if o.top5_overlap is None else f"{o.top5_overlap:.0%}")
    console.print(table)
    return 0
