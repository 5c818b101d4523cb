"""``onnpu fix-shapes MODEL -o OUT --dim N=1 | --input x=1,3,224,224``."""

from __future__ import annotations

import argparse

from rich.markup import escape

from onnpu.cli.common import add_json_arg, console, local_model, parse_dims, print_json
from onnpu.shapes import fix_shapes, parse_shape_spec


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fix-shapes", help="fix symbolic dims / input shapes (ONNX Runtime's helpers) and verify")
    p.add_argument("model", help="ONNX model file")
    p.add_argument("-o", "--output", required=True, help="where to write the fixed model")
    p.add_argument("--dim", action="append", default=[], metavar="NAME=VALUE", help="fix a symbolic dim (repeatable)")
    p.add_argument("--input", action="append", default=[], metavar="NAME=D0,D1,...",
                   help="fix a whole input shape, e.g. x=1,3,640,640 (repeatable)")
    p.add_argument("--allow-dynamic", action="store_true", help="write the model even if dynamic dims remain")
    p.add_argument("--force", action="store_true", help="allow -o to replace the input file")
    add_json_arg(p)
    p.set_defaults(handler=run)


def shape_specs(items: list[str]) -> dict[str, list[int]]:
    return dict(parse_shape_spec(item) for item in items)


def run(args: argparse.Namespace) -> int:
    args.model = local_model(args.model)
    result = fix_shapes(args.model, args.output, dims=parse_dims(args.dim), shapes=shape_specs(args.input),
                        allow_dynamic=args.allow_dynamic, force=args.force)
    if args.json:
        print_json(result.to_dict())
        return 0
    for change in result.changes:
        console.print(f"  {escape(change)}")
    for name, shape in {**result.inputs, **result.outputs}.items():
        console.print(f"  {escape(name)}: {escape(str(shape))}")
    if result.remaining:
        console.print(f"[yellow]still dynamic: {escape(str(result.remaining))}[/]")
    console.print(f"[green]wrote {result.output}[/]")
    return 0
