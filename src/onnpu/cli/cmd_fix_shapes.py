"""``onnpu fix-shapes MODEL -o OUT --dim N=1 | --input x=1,3,224,224``."""

from __future__ import annotations

import argparse

from onnpu.cli.args import add_json_arg, add_shape_args, parse_dims, shape_specs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fix-shapes", help="fix symbolic dims / input shapes (ONNX Runtime's helpers) and verify")
    p.add_argument("model", help="ONNX model file")
    p.add_argument("-o", "--output", required=True, help="where to write the fixed model")
    add_shape_args(p)
    p.add_argument("--allow-dynamic", action="store_true", help="write the model even if dynamic dims remain")
    p.add_argument("--override-fixed", action="store_true",
                   help="let --input change dims the model fixes (a fully convolutional model exported at one size); "
                        "the graph is checked to take the new shape")
    p.add_argument("--force", action="store_true", help="allow -o to replace the input file")
    add_json_arg(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from onnpu.cli.console import escape, out, print_json
    from onnpu.cli.sources import local_model
    from onnpu.model.shapes import fix_shapes
    from onnpu.runtime.feeds import runs_once_on_cpu

    args.model = local_model(args.model)
    result = fix_shapes(args.model, args.output, dims=parse_dims(args.dim), shapes=shape_specs(args.input),
                        allow_dynamic=args.allow_dynamic, force=args.force, override=args.override_fixed,
                        check=runs_once_on_cpu)
    if args.json:
        print_json(result.to_dict())
        return 0
    for change in result.changes:
        out().print(f"  {escape(change)}")
    for name, shape in {**result.inputs, **result.outputs}.items():
        out().print(f"  {escape(name)}: {escape(str(shape))}")
    if result.remaining:
        out().print(f"[yellow]still dynamic: {escape(str(result.remaining))}[/]")
    out().print(f"[green]wrote {result.output}[/]")
    return 0
