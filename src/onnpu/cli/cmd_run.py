"""``onnpu run MODEL --target T``: run a model on real or random inputs, save outputs, show placement."""

from __future__ import annotations

import argparse
import io
import os
import tempfile
from pathlib import Path

import numpy as np
from rich.markup import escape
from rich.table import Table

from onnpu.cli.common import (
    add_download_args,
    add_json_arg,
    add_target_args,
    console,
    local_model,
    parse_dims,
    print_json,
    target_from,
)
from onnpu.cli.render import print_placement
from onnpu.errors import InputDataError, OutputError
from onnpu.running import load_arrays, run_model


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a model on a target with inputs from .npy/.npz or random data")
    p.add_argument("model", help="ONNX model file")
    add_target_args(p)
    p.add_argument("--input", "-i", action="append", default=[], metavar="NAME=PATH",
                   help="input array from .npy/.npz (repeatable); PATH alone: an .npz holding every input")
    p.add_argument("--random", action="store_true", help="generate inputs (seeded) instead of --input")
    p.add_argument("--seed", type=int, default=0, help="seed for --random (default 0)")
    p.add_argument("--iterations", type=int, default=1, help="timed runs (default 1)")
    p.add_argument("--output", "-o", help="save outputs to this .npz")
    add_download_args(p)
    add_json_arg(p)
    p.set_defaults(handler=run)


def _specs(items: list[str]) -> dict[str, str]:
    specs: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep:
            specs["*"] = item
        else:
            specs[name] = path
    return specs


def save_npz(out: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write an .npz atomically."""
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise OutputError(f"{out}: the output folder {parent} does not exist or is not writable",
                          hint="choose a writable folder with -o")
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(buffer.getvalue())
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def run(args: argparse.Namespace) -> int:
    if args.input and args.random:
        raise InputDataError("--input and --random conflict", hint="give inputs from files or generate them, not both")
    target = target_from(args)
    inputs = load_arrays(_specs(args.input)) if args.input else None
    model = local_model(args.model, args) or args.model
    result = run_model(model, target, inputs=inputs, seed=args.seed, dims=parse_dims(args.dim),
                       iterations=args.iterations, cache=not args.no_cache)
    if args.output:
        save_npz(Path(args.output), result.outputs)
    if args.json:
        print_json(result.to_dict() | {"saved_to": args.output})
        return 0
    console.print(f"[bold]{result.model}[/] on {target.describe()}")
    for note in result.notes:
        console.print(f"  {escape(note)}")
    print_placement(target, result.providers, result.placement)
    table = Table(title="outputs", title_justify="left")
    for col in ("name", "shape", "dtype", "min", "max", "mean"):
        table.add_column(col)
    for name, value in result.outputs.items():
        v = value.astype(np.float64)
        table.add_row(escape(name), escape(str(list(value.shape))), str(value.dtype), f"{v.min():.6g}",
                      f"{v.max():.6g}", f"{v.mean():.6g}")
    console.print(table)
    lat = np.array(result.latencies_ms)
    console.print(f"session {result.session_seconds * 1000:.0f} ms; run median {np.median(lat):.2f} ms over "
                  f"{len(lat)} iteration{'s' if len(lat) != 1 else ''}"
                  + (f"; outputs saved to {args.output}" if args.output else ""))
    return 0
