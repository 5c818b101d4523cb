"""The onnpu command line: ``main(argv)`` parses, calls one library function per verb inside one error
boundary, and renders the result. Verb modules import the library only when their verb runs, so the parser
(and ``--help``) starts without onnx, onnxruntime or numpy."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from typing import Any

from onnpu._version import __version__
from onnpu.cli import (
    cmd_bench,
    cmd_cache,
    cmd_classify,
    cmd_compare,
    cmd_compile,
    cmd_demo,
    cmd_detect,
    cmd_doctor,
    cmd_eval,
    cmd_fix_shapes,
    cmd_inspect,
    cmd_layers,
    cmd_placement,
    cmd_prepare,
    cmd_profile,
    cmd_quantize,
    cmd_run,
    cmd_simplify,
    cmd_zoo,
)
from onnpu.cli.args import JSON_ERRORS, Parser
from onnpu.errors import ExitCode, OnnpuError

COMMANDS = (cmd_doctor, cmd_inspect, cmd_fix_shapes, cmd_quantize, cmd_prepare, cmd_placement, cmd_profile, cmd_run,
            cmd_simplify, cmd_classify, cmd_detect, cmd_eval, cmd_bench, cmd_compare, cmd_compile, cmd_layers,
            cmd_cache, cmd_zoo, cmd_demo)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="onnpu", description="ONNX models on Qualcomm NPUs (QNN HTP), with proof "
                                     "of what runs where, how fast and how accurately.")
    parser.add_argument("--version", action="version", version=f"onnpu {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    for verb in sub.choices.values():  # `onnpu doctor -v` as well as `onnpu -v doctor`
        verb.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help=VERBOSE_HELP)
        verb.set_defaults(parser=verb)  # flags that do not apply in a mode are refused with the verb's usage
    return parser


VERBOSE_HELP = "show what native libraries (ONNX Runtime, QNN) print, and onnpu's log, on stderr"


def _log_to_stderr(verbose: int) -> logging.Handler | None:
    if not verbose:
        return None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    logger = logging.getLogger("onnpu")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, run one verb, render. While the verb runs, file descriptors 1 and 2 belong to native code
    (the QNN libraries print to fd 1): onnpu writes its own output through private duplicates of the real
    stdout and stderr, so ``--json``, CSV and JSONL outputs hold nothing else; ``-v`` shows the native
    output on stderr. The library's progress, warnings and notes (``onnpu.progress``) go to one reporter on
    stderr, set here for every verb: no progress bar for programs (``--json``, ``--csv``)."""
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    flags = words[:words.index("--")] if "--" in words else words
    # --json, or what argparse takes for it (--js, --jso: no other flag starts so)
    json_errors = JSON_ERRORS.set(any(len(w) >= 4 and "--json".startswith(w) for w in flags))
    try:
        args = parser.parse_args(words)
        JSON_ERRORS.set(bool(getattr(args, "json", False)))  # what the verb refuses later follows what was parsed
        previous = _interrupt_once()
        try:
            with warnings.catch_warnings():
                # numpy's "invalid value encountered" and the like on a model's NaN or Inf: onnpu checks values
                # itself and says what is wrong in one line; Python's warning would break that line
                warnings.simplefilter("ignore", RuntimeWarning)
                return _main(args)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
    finally:
        JSON_ERRORS.reset(json_errors)


def _interrupt_once() -> Any:
    """The first Ctrl-C interrupts the verb; later ones are ignored while it cleans up (a second Ctrl-C
    during clean-up would otherwise print "Exception ignored …" tracebacks). Returns the handler to restore
    (None when nothing was changed: another thread, or SIGINT ignored as under nohup)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    current = signal.getsignal(signal.SIGINT)
    if current is not signal.default_int_handler:
        return None

    def once(signum: int, frame: object) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, once)
    return current


def _fail(args: argparse.Namespace, exc: OnnpuError) -> int:
    """The error for people on stderr; with ``--json`` also one line of JSON on stdout (``{"error", "hint",
    "exit_code"}``), so a program reading stdout gets JSON whatever happened — one line, as a JSONL stream of
    results (``detect DIR --json``) takes it too."""
    from onnpu.cli.console import fail

    if getattr(args, "json", False):
        from onnpu.jsonio import dumps_line

        sys.stdout.write(dumps_line({"error": exc.message, "hint": exc.hint, "exit_code": int(exc.exit_code)}))
        sys.stdout.flush()
    return fail(exc)


def _naming_the_model(exc: OnnpuError, model: object) -> OnnpuError:
    """An error about one of the model's inputs or outputs, raised where the file is not known (``input 'x' is
    string …``, ``the model's outputs (…) match no detection head``), said with the model file first, as every
    other error names it (``--model`` given once names it too; compare names its reference)."""
    if isinstance(model, list | tuple) and len(model) == 1:
        model = model[0]
    about_the_model = exc.message.startswith(("input ", "output ", "the model's "))
    if isinstance(model, str) and model and about_the_model and model not in exc.message:
        exc.message = f"{model}: {exc.message}"
    return exc


def _main(args: argparse.Namespace) -> int:
    from onnpu.cli.progress import CliReporter
    from onnpu.progress import reporting
    from onnpu.runtime.native_log import native_output_redirected

    verbose = int(getattr(args, "verbose", 0) or 0)
    reporter = CliReporter(show=not (getattr(args, "json", False) or getattr(args, "csv", False)))
    with native_output_redirected(show=bool(verbose)), reporting(reporter):
        handler = _log_to_stderr(verbose)
        try:
            try:
                return int(args.handler(args))
            finally:
                reporter.close()  # the bar is gone before results or errors are printed
        except OnnpuError as exc:
            return _fail(args, _naming_the_model(exc, getattr(args, "model", None) or getattr(args, "reference", None)))
        except KeyboardInterrupt:
            return int(ExitCode.INTERRUPTED)
        except ImportError as exc:  # Ctrl-C while a native extension initialises (onnxruntime re-raises it so)
            if isinstance(exc.__context__, KeyboardInterrupt) or isinstance(exc.__cause__, KeyboardInterrupt):
                return int(ExitCode.INTERRUPTED)
            if exc.name == "onnxruntime":  # onnpu brings no ONNX Runtime of its own: the extras choose one
                from onnpu.errors import TargetError

                return _fail(args, TargetError("onnxruntime is not installed", hint="install one: `pip install "
                                        "'onnpu[qnn]'` (NPU, PyPI's QNN plugin) or `pip install 'onnpu[cpu]'`; on a "
                                        "board with its own QNN build of onnxruntime, keep it (`pip install onnpu`)"))
            raise
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
        except MemoryError:
            return _fail(args, OnnpuError(f"out of memory while running `onnpu {args.command}`",
                                   hint="run it on a machine with more memory, or with a smaller model or input"))
        except OSError as exc:
            from onnpu.guards import disk_full, write_error

            if not disk_full(exc):
                raise
            return _fail(args, write_error(exc, "output", exc.filename or "."))
        finally:
            if handler is not None:
                logging.getLogger("onnpu").removeHandler(handler)


def main_entry() -> None:
    """Console-script entry point. After the verb, fd 1 stays away from native code until the process ends
    (libraries unloading at exit print nothing into onnpu's output)."""
    from onnpu.runtime.native_log import silence_stdout_fd

    try:
        code = main()
    except KeyboardInterrupt:  # Ctrl-C in the instant between the verb's end and the line below
        code = ExitCode.INTERRUPTED
    # the verb is over (its output complete, or cleaned up): a Ctrl-C while the interpreter shuts down changes
    # nothing, so it is ignored rather than ending the process by the signal with a traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    silence_stdout_fd("-v" in sys.argv[1:] or "--verbose" in sys.argv[1:])
    sys.exit(code)
