"""``onnpu compile MODEL --soc qcs6490,qcs8550 -o DIR``: a compiled model per SoC, verified, with a manifest."""

from __future__ import annotations

import argparse

from onnpu.cli.args import add_json_arg, add_soc_arg, given, non_negative_int, refuse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compile", help="compile for each SoC's NPU (EP context models), verify, write a manifest")
    p.add_argument("model", help="ONNX model (quantized for the HTP: `onnpu prepare` makes one)")
    p.add_argument("-o", "--output", required=True, help="folder for the compiled models and manifest.json")
    add_soc_arg(p, many=True)
    p.add_argument("--multi-soc", action="store_true",
                   help="one model holding a context per SoC (checked by its records: the emulator cannot run it)")
    p.add_argument("--no-embed", action="store_true", help="keep each QNN binary beside its model (_qnn.bin)")
    p.add_argument("--inputs", type=non_negative_int,
                   help="random inputs each compiled model is checked on (default 2; 0: no check)")
    p.add_argument("--allow-fallback", action="store_true", help="keep nodes the NPU refuses on the CPU")
    p.add_argument("--ep-option", action="append", default=[], metavar="KEY=VALUE", help="QNN provider option")
    add_json_arg(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from onnpu.cli.console import escape, out, print_json
    from onnpu.cli.sources import local_model
    from onnpu.runtime.qnn_options import parse_option
    from onnpu.tasks.compile import compile_for_socs

    if args.multi_soc and given(args, "inputs"):
        refuse(args, "--inputs: a multi-SoC model is checked by its records (the emulator cannot run it)")
    model = local_model(args.model) or args.model
    socs = [s.strip() for s in (args.soc or "").split(",") if s.strip()]
    result = compile_for_socs(model, args.output, socs, multi_soc=args.multi_soc, embed=not args.no_embed,
                              inputs=2 if args.inputs is None else args.inputs, allow_fallback=args.allow_fallback,
                              options=dict(parse_option(o) for o in args.ep_option))
    if args.json:
        print_json(result.to_dict())
        return 0
    table = Table(title=f"compiled {escape(result.source)} → {escape(result.output_dir)}", title_justify="left")
    for col in ("SoC", "HTP", "file", "MB", "compile s", "load s", "max steps vs exact CPU", "check"):
        table.add_column(col, overflow="fold")
    for e in result.entries:
        steps = ", ".join(f"{k} {v:.2f}" if v is not None else f"{k} Δ{e.max_abs_diff[k]:.3g}"
                          for k, v in e.max_steps.items()) or "-"
        table.add_row(e.soc, ", ".join(f"v{a}" for a in e.htp_arch), escape(e.file), f"{e.size_bytes / 1e6:.2f}",
                      f"{e.compile_seconds:.2f}", "-" if e.load_seconds is None else f"{e.load_seconds:.2f}",
                      escape(steps), escape(e.check))
    out().print(table)
    for note in result.notes:
        out().print(f"[yellow]{escape(note)}[/]")
    out().print(f"manifest: {escape(result.manifest)}; QNN {result.versions.get('qnn_sdk')}, onnxruntime "
                f"{result.versions.get('onnxruntime')}")
    return 0
