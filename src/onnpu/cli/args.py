"""The argument groups several verbs share, declared once, and how each becomes a library value: the target
(provider, options, fallback, context cache, fixed dims), input shapes, preprocessing, quantization, JSON.

Only cheap modules are imported here: building the parser must not import onnx, onnxruntime or numpy."""

from __future__ import annotations

import argparse
import contextvars
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from onnpu.errors import InputDataError, ShapeError, TargetError
from onnpu.quantization.config import ACTIVATION_TYPES, AUTO, DEFAULT_QUANTIZE, METHODS, WEIGHT_TYPES, QuantizeConfig
from onnpu.runtime.qnn_options import parse_option
from onnpu.runtime.socs import SOCS
from onnpu.runtime.targets import Target, get_target
from onnpu.vision.presets import SCALING

if TYPE_CHECKING:
    from onnpu.vision.preprocess import PreprocessConfig


# --- the parser: usage errors in JSON too when the command line asks for JSON ----------------------------------

JSON_ERRORS: contextvars.ContextVar[bool] = contextvars.ContextVar("onnpu_json_errors", default=False)


class Parser(argparse.ArgumentParser):
    """argparse's parser (its verbs' parsers are of the same class): a usage error prints usage and the error on
    stderr and exits 2, as argparse does; while ``JSON_ERRORS`` is set (``--json`` on the command line) it also
    prints ``{"error", "hint", "exit_code": 2}`` as one line on stdout, as every other error does."""

    def error(self, message: str) -> NoReturn:
        if JSON_ERRORS.get():
            from onnpu.jsonio import dumps_line

            sys.stdout.write(dumps_line({"error": f"{self.prog}: {message}", "hint": f"see `{self.prog} --help`",
                                         "exit_code": 2}))
            sys.stdout.flush()
        super().error(message)


# --- argument types: a count of 0 or a negative top-k is a usage error, refused by argparse (exit 2) ------

def positive_int(text: str) -> int:
    """An integer ≥ 1."""
    return _bounded(text, int, 1, "a whole number ≥ 1")


def non_negative_int(text: str) -> int:
    """An integer ≥ 0."""
    return _bounded(text, int, 0, "a whole number ≥ 0")


def positive_float(text: str) -> float:
    """A number > 0."""
    value = _bounded(text, float, 0.0, "a number > 0")
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number > 0")
    return value


def fraction(text: str) -> float:
    """A number in [0, 1)."""
    value = _bounded(text, float, 0.0, "a number from 0 up to (not including) 1")
    if value >= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 0 up to (not including) 1")
    return value


def ratio(text: str) -> float:
    """A number in (0, 1]."""
    value = _bounded(text, float, 0.0, "a number above 0 and at most 1")
    if value == 0 or value > 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number above 0 and at most 1")
    return value


def _bounded(text: str, kind: type, low: float, what: str) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if not value >= low or value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


# --- flags that do not apply in a mode are refused, as argparse refuses a wrong command line (exit 2) -------

def refuse(args: argparse.Namespace, message: str) -> NoReturn:
    """A usage error found after parsing (a flag that does nothing in this mode): argparse's message and exit 2."""
    parser: argparse.ArgumentParser = args.parser
    parser.error(message)


def given(args: argparse.Namespace, *names: str) -> list[str]:
    """The flags among ``names`` (dest names) the user gave (those whose default is None)."""
    return [f"--{n.replace('_', '-')}" for n in names if getattr(args, n, None) is not None]


def require_images(args: argparse.Namespace, source: str | None, what: str) -> None:
    """Preprocessing flags apply to images only: refuse them when ``source`` is an .npz, ``random`` or absent."""
    from pathlib import Path

    flags = [f for f, v in (("--resize", args.resize), ("--crop-ratio", args.crop_ratio), ("--scaling", args.scaling),
                            ("--mean", args.mean), ("--std", args.std), ("--size", args.size)) if v is not None]
    flags += ["--bgr"] if args.bgr else []
    if flags and not (source and Path(source).is_dir()):
        refuse(args, f"{', '.join(flags)}: preprocessing applies to images, and {what} is "
                     f"{'not given' if not source else repr(source)}, not a folder of images")


def require_random(args: argparse.Namespace, source: str | None, what: str, *, values: bool = True) -> None:
    """``--input-range`` / ``--input-value`` shape random inputs: refuse them when ``source`` is real data."""
    flags = [f for f, v in (("--input-range", getattr(args, "input_range", [])),
                            ("--input-value", getattr(args, "input_value", []) if values else [])) if v]
    if flags and str(source) != "random":
        refuse(args, f"{', '.join(flags)}: these shape random inputs, and {what} is {source!r}")


# --- target ---------------------------------------------------------------------------------------------

def add_target_args(parser: argparse.ArgumentParser, default: str | None = "cpu", *, many: bool = False,
                    flag: str = "--target", fallback: bool = True, cache: bool = True, dims: bool = True,
                    what: str | None = None) -> None:
    """``--target`` (or a comma list with ``many``), ``--ep-option``, ``--no-fallback``, ``--no-cache``, ``--dim``."""
    names = (flag, "-t") if flag == "--target" else (flag,)
    text = what or (f"{'comma-separated targets' if many else 'cpu, npu (QNN HTP) or a provider name'} "
                    f"(default: {default})")
    parser.add_argument(*names, dest="target", default=default, help=text)
    parser.add_argument("--ep-option", action="append", default=[], metavar="KEY=VALUE",
                        help="provider option, repeatable (validated against the QNN EP's documented options)")
    add_soc_arg(parser)
    if fallback:
        parser.add_argument("--no-fallback", action="store_true",
                            help="fail instead of running nodes the target cannot run on the CPU")
    else:
        parser.set_defaults(no_fallback=False)
    if cache:
        parser.add_argument("--no-cache", action="store_true",
                            help="compile the NPU graph afresh instead of loading the cached QNN context")
    else:
        parser.set_defaults(no_cache=True)
    if dims:
        _add_dim_arg(parser)


def add_soc_arg(parser: argparse.ArgumentParser, *, many: bool = False) -> None:
    names = ", ".join(s.name.lower() for s in SOCS[:8])
    parser.add_argument("--soc", metavar="NAMES" if many else "NAME",
                        help=("comma-separated SoCs to compile for" if many else "the SoC whose NPU to run or "
                              "emulate") + f" ({names}, ...; `onnpu doctor --socs` lists them). Default: "
                        "ONNPU_SOC, the config file, the board itself, else qcs6490 (HTP v68, the most restrictive)")


def _add_dim_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dim", action="append", default=[], metavar="NAME=VALUE",
                        help="fix a symbolic dimension for the session, e.g. --dim N=1 (repeatable)")


def parse_dims(items: list[str]) -> dict[str, int]:
    dims: dict[str, int] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value.strip().isdigit() or int(value) < 1:
            raise ShapeError(f"--dim {item!r} is not NAME=VALUE with a positive integer", hint="e.g. --dim N=1")
        if name in dims and dims[name] != int(value):
            raise ShapeError(f"--dim {name} given twice ({dims[name]} and {value})", hint="give each dim once")
        dims[name] = int(value)
    return dims


def _options(args: argparse.Namespace) -> dict[str, str]:
    return dict(parse_option(o) for o in args.ep_option)


def target_from(args: argparse.Namespace, name: str | None = None) -> Target:
    return get_target(name or args.target, _options(args), allow_fallback=not args.no_fallback,
                      soc=getattr(args, "soc", None))


def targets_from(args: argparse.Namespace, default: str, count: int | None = None) -> list[Target]:
    """A comma list of targets; provider options go to the non-CPU ones."""
    names = [t.strip() for t in (args.target or default).split(",") if t.strip()]
    if not names:
        raise TargetError("no target given", hint="e.g. --target cpu,npu")
    if count is not None and len(names) != count:
        raise TargetError(f"{args.target!r} must name {count} targets", hint="e.g. --targets cpu,npu")
    options = _options(args)
    soc = getattr(args, "soc", None)
    return [get_target(n, options if n.lower() != "cpu" else None, allow_fallback=not args.no_fallback,
                       soc=soc if n.lower() != "cpu" else None) for n in names]


# --- shapes -----------------------------------------------------------------------------------------------

def add_shape_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dim", action="append", default=[], metavar="NAME=VALUE",
                        help="fix a symbolic dim (repeatable)")
    parser.add_argument("--input", action="append", default=[], metavar="NAME=D0,D1,...",
                        help="fix a whole input shape, e.g. x=1,3,640,640 (repeatable)")


def add_value_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input-value", action="append", default=[], metavar="NAME=VALUE",
                        help="make an input a constant, e.g. a sample rate: --input-value sr=16000 (repeatable); an "
                             "If whose condition then becomes constant is replaced by its branch")


def input_values(items: list[str]) -> dict[str, list[float]]:
    """``NAME=VALUE`` items as given to ``--input-value``."""
    from onnpu.model.simplify import parse_value_spec

    values: dict[str, list[float]] = {}
    for item in items:
        name, numbers = parse_value_spec(item)
        if name in values and values[name] != numbers:
            raise ShapeError(f"--input-value {name} given twice", hint="give each input once")
        values[name] = numbers
    return values


def add_input_range_args(parser: argparse.ArgumentParser, *, value: bool = True) -> None:
    """``--input-range NAME=LO,HI`` (and ``--input-value NAME=V`` with ``value``): random inputs per input."""
    parser.add_argument("--input-range", action="append", default=[], metavar="NAME=LO,HI",
                        help="random values of an input between LO and HI (integers: inclusive), instead of the range "
                             "onnpu reads from the graph (repeatable)")
    if value:
        parser.add_argument("--input-value", action="append", default=[], metavar="NAME=V",
                            help="feed an input the constant V in every sample: random ones, or an input the "
                                 "given samples lack (repeatable)")


def input_ranges_from(args: argparse.Namespace, *, values: bool = True) -> dict[str, tuple[float, float]]:
    """``--input-range`` and (``values``) ``--input-value`` (a constant: the range V..V) as ``NAME → (low, high)``."""
    from onnpu.model.simplify import parse_value_spec

    ranges: dict[str, tuple[float, float]] = {}
    for item in getattr(args, "input_range", []):
        name, sep, text = item.partition("=")
        parts = text.split(",")
        try:
            low, high = (float(p) for p in parts) if len(parts) == 2 else (None, None)
        except ValueError:
            low = high = None
        if not sep or not name or low is None or high is None or not low <= high:
            raise InputDataError(f"--input-range {item!r} is not NAME=LO,HI with LO <= HI",
                                 hint="e.g. --input-range input_ids=0,30521")
        if name in ranges:
            raise InputDataError(f"--input-range {name} given twice", hint="give each input once")
        ranges[name] = (low, high)
    for item in getattr(args, "input_value", []) if values else []:
        name, numbers = parse_value_spec(item)
        if len(numbers) != 1 or name in ranges:
            raise InputDataError(f"--input-value {item!r}: one number per input, not also given a range",
                                 hint="e.g. --input-value attention_mask=1")
        ranges[name] = (numbers[0], numbers[0])
    return ranges


def shape_specs(items: list[str]) -> dict[str, list[int]]:
    """``NAME=D0,D1,...`` items as given to ``--input``."""
    from onnpu.model.shapes import parse_shape_spec

    return dict(parse_shape_spec(item) for item in items)


# --- output -----------------------------------------------------------------------------------------------

def add_json_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def add_download_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sha256", help="expected SHA-256 of a model given as a URL")
    parser.add_argument("--model-data", action="append", default=[], metavar="URL",
                        help="URL of the model's external-data file (default: found beside the model URL)")
    parser.add_argument("--max-download-mb", type=positive_float, metavar="MB",
                        help="refuse downloads larger than this (default 8590 MB, or ONNPU_MAX_DOWNLOAD_MB)")


# --- preprocessing ------------------------------------------------------------------------------------------

def add_preprocess_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("preprocessing (default: what the model declares, else crop 0.875 + imagenet)")
    g.add_argument("--resize", choices=("resize", "crop"), help="plain resize, or shorter side + centre crop")
    g.add_argument("--crop-ratio", type=ratio, help="centre-crop ratio for --resize crop (e.g. 0.875)")
    g.add_argument("--scaling", choices=tuple(SCALING), help="pixel scaling preset")
    g.add_argument("--mean", help="per-channel mean in 0..1, e.g. 0.485,0.456,0.406 (replaces --scaling)")
    g.add_argument("--std", help="per-channel std in 0..1, e.g. 0.229,0.224,0.225")
    g.add_argument("--bgr", action="store_true", help="feed channels in BGR order")
    g.add_argument("--size", help="HEIGHTxWIDTH for models with a dynamic spatial size")


def _floats(text: str | None, flag: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError as exc:
        raise InputDataError(f"{flag} {text!r} is not a comma-separated list of numbers",
                             hint=f"e.g. {flag} 0.485,0.456,0.406") from exc


def preprocess_from(args: argparse.Namespace) -> PreprocessConfig | None:
    size = None
    if args.size:
        h, sep, w = args.size.lower().partition("x")
        if not sep or not h.isdigit() or not w.isdigit():
            raise InputDataError(f"--size {args.size!r} is not HEIGHTxWIDTH", hint="e.g. --size 224x224")
        size = (int(h), int(w))
    given = {"resize": args.resize, "crop_ratio": args.crop_ratio, "scaling": args.scaling,
             "mean": _floats(args.mean, "--mean"), "std": _floats(args.std, "--std"),
             "channels": "BGR" if args.bgr else None, "size": size}
    if all(v is None for v in given.values()):
        return None
    from onnpu.vision.preprocess import PreprocessConfig

    return PreprocessConfig().updated(**given)


# --- quantization -------------------------------------------------------------------------------------------

def add_quantize_args(p: argparse.ArgumentParser, *, calib_required: bool = True) -> None:
    p.add_argument("--calib", required=calib_required,
                   help="folder of images, .npz of input arrays, or `random`"
                   + ("" if calib_required else " (needed for a float model)"))
    p.add_argument("--activations", choices=(AUTO, *ACTIVATION_TYPES), default=AUTO,
                   help="activation type; auto (default): u16 for transformer encoders (W8A16), u8 otherwise")
    p.add_argument("--weights", choices=tuple(WEIGHT_TYPES), default="i8", help="weight type (i8)")
    p.add_argument("--per-channel", action=argparse.BooleanOptionalAction, default=True,
                   help="per-channel weights (default on)")
    p.add_argument("--method", choices=tuple(METHODS), default="minmax", help="calibration method (minmax)")
    p.add_argument("--no-range-search", action="store_true",
                   help="keep the calibration method's activation ranges (default: per tensor, the clipping range "
                        "of least error on the calibration inputs, kept where it measures better)")
    p.add_argument("--equalize", action="store_true",
                   help="cross-layer equalisation of Conv → [ReLU|Clip] → Conv pairs before quantizing, with high-bias "
                        "absorption (exact in float; helps per-tensor weights most; off by default: see BENCHMARKS "
                        "'Quantization ablation')")
    p.add_argument("--io", choices=("float", "uint8"), default="float",
                   help="uint8: quantized inputs/outputs (parameters kept in the model)")
    p.add_argument("--holdout", type=fraction, default=0.2, help="share of inputs held out for the quality report")
    p.add_argument("--limit", type=positive_int, help="use at most this many inputs")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed for the split and random data")
    p.add_argument("--target-sqnr", type=float, metavar="DB",
                   help="raise activations to uint16, best measured gain per element first, until met")
    p.add_argument("--rounding", choices=("nearest", "optimized"), default=DEFAULT_QUANTIZE.rounding,
                   help="weight rounding: nearest, or optimized (second-order, per layer, on the calibration "
                        f"inputs); default {DEFAULT_QUANTIZE.rounding}")
    p.add_argument("--no-bias-correction", action="store_true", help="with --rounding optimized: keep biases")
    p.add_argument("--jobs", type=positive_int, help="with --rounding optimized: layers rounded in parallel; with "
                   "--target-sqnr: 16-bit gains measured in parallel (default 1)")
    p.add_argument("--force", action="store_true", help="allow -o to replace the input file")
    add_preprocess_args(p)


def quantize_config_from(args: argparse.Namespace) -> QuantizeConfig:
    if args.rounding == "nearest":
        flags = (["--no-bias-correction"] if args.no_bias_correction else []) + \
            (given(args, "jobs") if getattr(args, "target_sqnr", None) is None else [])
        if flags:
            refuse(args, f"{', '.join(flags)}: only with --rounding optimized"
                   + (" (or --target-sqnr)" if "--jobs" in flags else ""))
    return QuantizeConfig(args.activations, args.weights, args.per_channel, args.method, args.rounding,
                          not args.no_bias_correction, not args.no_range_search, args.equalize)
