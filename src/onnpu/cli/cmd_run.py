"""``onnpu run MODEL --target T``: run a model on real or random inputs, save outputs, show placement."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from onnpu.cli.args import (
    add_download_args,
    add_input_range_args,
    add_json_arg,
    add_target_args,
    input_ranges_from,
    non_negative_int,
    parse_dims,
    positive_int,
    refuse,
    target_from,
)

if TYPE_CHECKING:
    import numpy as np


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a model on a target with inputs from .npy/.npz or random data")
    p.add_argument("model", help="ONNX model file")
    add_target_args(p)
    p.add_argument("--input", "-i", action="append", default=[], metavar="NAME=PATH",
                   help="input array from .npy/.npz (repeatable); PATH alone: an .npz holding every input")
    p.add_argument("--random", action="store_true", help="generate inputs (seeded) instead of --input")
    p.add_argument("--seed", type=non_negative_int, help="seed for --random (default 0)")
    add_input_range_args(p)
    p.add_argument("--iterations", type=positive_int, default=1, help="timed runs (default 1)")
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


def archive_keys(names: list[str]) -> dict[str, str]:
    """Each output name's member name in an .npz: itself, or — for a name that would be a path inside the archive
    (``../x``, ``a/b``) — its separators as ``_``, made unique without taking a name another output has."""
    import re

    def clean(name: str) -> str:
        return re.sub(r"[/\\\x00-\x1f]", "_", name).lstrip(".") or "output"

    taken = {n for n in names if clean(n) == n}  # names that are keys as they are keep them
    keys: dict[str, str] = {}
    for name in names:
        key = clean(name)
        if key != name:
            while key in taken:
                key += "_"
            taken.add(key)
        keys[name] = key
    return keys


def _save_npz(out: Path, arrays: dict[str, np.ndarray], inputs: tuple[str, ...]) -> dict[str, str]:
    """Write an .npz atomically (never through a link, never over one of the command's inputs); returns the
    outputs saved under another name (``archive_keys``)."""
    import zipfile

    import numpy as np

    from onnpu.guards import write_error
    from onnpu.model.files import check_output
    from onnpu.storage import atomic_output

    check_output(out, others=inputs, what="outputs")
    keys = archive_keys(list(arrays))
    safe = {keys[name]: value for name, value in arrays.items()}
    try:
        with atomic_output(out) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            for key, value in safe.items():  # as numpy.savez writes them, with any name (even "file")
                with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)
    except OSError as exc:
        raise write_error(exc, "outputs", out) from exc
    return {name: key for name, key in keys.items() if name != key}


def run(args: argparse.Namespace) -> int:
    import statistics

    from rich.table import Table

    from onnpu.cli.console import escape, out, print_json
    from onnpu.cli.render import print_placement
    from onnpu.cli.sources import local_model
    from onnpu.runtime.feeds import load_arrays
    from onnpu.tasks.run import output_stats, run_model

    ranges = args.input_range or args.input_value
    if args.input and (args.random or args.seed is not None) and not ranges:
        refuse(args, f"{'--random' if args.random else '--seed'}: the inputs come from --input files")
    target = target_from(args)
    inputs = load_arrays(_specs(args.input)) if args.input else None
    model = local_model(args.model, args) or args.model
    read: tuple[str, ...] = ()
    if args.output:
        from onnpu.model.files import check_output, model_files

        read = (*(str(f) for f in model_files(model)), *_specs(args.input).values())
        check_output(args.output, others=read, what="outputs")  # before any work
    result = run_model(model, target, inputs=inputs, seed=args.seed or 0, dims=parse_dims(args.dim),
                       iterations=args.iterations, cache=not args.no_cache, input_ranges=input_ranges_from(args))
    renamed = _save_npz(Path(args.output), result.outputs, read) if args.output else {}
    if renamed:
        from onnpu import progress

        progress.note("saved under other names (not paths inside the archive): "
                      + ", ".join(f"{name!r} as {key!r}" for name, key in renamed.items()))
    if args.json:
        print_json(result.to_dict() | {"saved_to": args.output, "saved_as": renamed})
        return 0
    out().print(f"[bold]{result.model}[/] on {target.describe()}")
    for note in result.notes:
        out().print(f"  {escape(note)}")
    print_placement(target, result.providers, result.placement)
    table = Table(title="outputs", title_justify="left")
    for col in ("name", "shape", "dtype", "min", "max", "mean"):
        table.add_column(col)
    for name, value in result.outputs.items():
        stats = output_stats(value)
        shown = [f"{x:.6g}" for x in stats] if stats else ["-"] * 3
        table.add_row(escape(name), escape(str(list(value.shape))), str(value.dtype), *shown)
    out().print(table)
    lat = result.latencies_ms
    out().print(f"session {result.session_seconds * 1000:.0f} ms; run median {statistics.median(lat):.2f} ms over "
                f"{len(lat)} iteration{'s' if len(lat) != 1 else ''}"
                + (f"; outputs saved to {args.output}" if args.output else ""))
    return 0
