"""The onnpu command line: ``main(argv)`` parses, calls one library function per verb inside one error
boundary, and renders the result. Verb modules import the library only when their verb runs, so the parser
(and ``--help``) starts without onnx, onnxruntime or numpy."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from onnpu import __version__
from onnpu.cli import (
    cmd_bench,
    cmd_cache,
    cmd_classify,
    cmd_compare,
    cmd_demo,
    cmd_doctor,
    cmd_fix_shapes,
    cmd_inspect,
    cmd_layers,
    cmd_placement,
    cmd_prepare,
    cmd_profile,
    cmd_quantize,
    cmd_run,
    cmd_zoo,
)
from onnpu.errors import OnnpuError

COMMANDS = (cmd_doctor, cmd_inspect, cmd_fix_shapes, cmd_quantize, cmd_prepare, cmd_placement, cmd_profile, cmd_run,
            cmd_classify, cmd_bench, cmd_compare, cmd_layers, cmd_cache, cmd_zoo, cmd_demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="onnpu", description="ONNX models on Qualcomm NPUs (QNN HTP), with proof "
                                     "of what runs where, how fast and how accurately.")
    parser.add_argument("--version", action="version", version=f"onnpu {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except OnnpuError as exc:
        from onnpu.cli.console import fail

        return fail(exc)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def main_entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
