"""``onnpu inspect MODEL``: I/O, dynamic dims, ops, size and quantization parameters."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from onnpu.cli.args import add_download_args, add_json_arg

if TYPE_CHECKING:
    from onnpu.model.inspection import ModelInfo, TensorInfo


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="describe a model: I/O, dynamic dims, ops, quantization parameters")
    p.add_argument("model", help="ONNX model file")
    add_download_args(p)
    add_json_arg(p)
    p.set_defaults(handler=run)


def _quant_text(t: TensorInfo) -> str:
    if t.quant is None:
        return "-"
    q = t.quant
    if q.per_tensor:
        return f"{q.dtype} scale={q.scale[0]:.6g} zero_point={q.zero_point[0]}  ({q.source})"
    return f"{q.dtype} per-axis {q.axis}, {len(q.scale)} scales ({q.source})"


def _computed(dim: str) -> bool:
    """A symbolic dim an exporter wrote as the expression that computes it (``floor(height/2 - 1/2) + …``): shown
    as ``?`` in the table (the JSON keeps it)."""
    return len(dim) > 24 or any(c in dim for c in "()*/+ ")


def render(info: ModelInfo) -> None:
    from rich.table import Table

    from onnpu.cli.console import escape, out

    out().print(f"[bold]{escape(info.path)}[/]  IR {info.ir_version}, opsets "
                + escape(", ".join(f"{d} {v}" for d, v in info.opsets.items()))
                + (f", producer {escape(info.producer)}" if info.producer else ""))
    table = Table(title="inputs and outputs", title_justify="left")
    for col in ("", "name", "type", "shape", "quantization"):
        table.add_column(col)
    for kind, tensors in (("in", info.inputs), ("out", info.outputs)):
        for t in tensors:
            named = [d for d in t.dynamic_dims if not _computed(d)]
            shape = escape("[" + ", ".join("?" if d is None or (isinstance(d, str) and _computed(d)) else str(d)
                                           for d in t.shape) + "]")
            shape += f"  [yellow]dynamic: {escape(', '.join(named))}[/]" if named else ""
            table.add_row(kind, escape(t.name), escape(t.type_text), shape, escape(_quant_text(t)))
    out().print(table)
    ops = ", ".join(f"{op} {n}" for op, n in info.op_histogram.items())
    out().print(f"nodes: {info.node_count} ({escape(ops)})", soft_wrap=True)
    out().print(f"parameters: {info.parameter_count:,} ({info.parameter_bytes / 1e6:.2f} MB); "
                f"quantization: {info.quantization_style}"
                + (f"; external data: {escape(', '.join(info.external_data))}" if info.external_data else ""))
    if info.dynamic_inputs:
        dims = sorted({d for ds in info.dynamic_inputs.values() for d in ds})
        out().print(f"[yellow]dynamic dims {escape(', '.join(dims))}: fix them (--dim NAME=VALUE) or the NPU "
                    "target runs everything on the CPU[/]")


def run(args: argparse.Namespace) -> int:
    from onnpu.cli.console import print_json
    from onnpu.cli.sources import local_model
    from onnpu.model.inspection import inspect_model

    info = inspect_model(local_model(args.model, args) or args.model)
    if args.json:
        print_json(info.to_dict())
    else:
        render(info)
    return 0
