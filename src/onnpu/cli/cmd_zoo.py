"""``onnpu zoo build|path``: the built-in default model, built offline and cached."""

from __future__ import annotations

import argparse

from onnpu.cli.args import add_json_arg

DEFAULT_MODEL = "efficientnet-lite0"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("zoo", help="build the built-in models (offline) and show where they are cached")
    p.add_argument("action", choices=("build", "path"), help="build: build if missing or invalid; path: print paths")
    p.add_argument("name", nargs="?", default=DEFAULT_MODEL, help=f"model name (default {DEFAULT_MODEL})")
    p.add_argument("--force", action="store_true", help="rebuild even if a valid cached copy exists")
    add_json_arg(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from onnpu import zoo
    from onnpu.cli.console import out, print_json

    model = zoo.build(args.name, force=args.force)
    data = {"name": model.name, "float": str(model.float_model), "quantized": str(model.quantized_model),
            "built": model.built, "seconds": round(model.seconds, 2)}
    if args.json:
        print_json(data)
    elif args.action == "path":
        out().print(f"{model.float_model}\n{model.quantized_model}")
    else:
        state = f"built in {model.seconds:.1f} s" if model.built else "cached copy is valid"
        out().print(f"{model.name}: {state}\n  float:     {model.float_model}\n  quantized: {model.quantized_model}")
    return 0
