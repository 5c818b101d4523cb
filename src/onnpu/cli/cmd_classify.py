"""``onnpu classify IMAGE... --model M --target T``: top-k classes with labels, providers and latency."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from onnpu.cli.args import (
    add_download_args,
    add_json_arg,
    add_preprocess_args,
    add_target_args,
    parse_dims,
    positive_int,
    preprocess_from,
    refuse,
    target_from,
)

if TYPE_CHECKING:
    from onnpu.vision.classify import ClassifyResult


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="classify images (top-k with labels), on cpu or npu")
    p.add_argument("images", nargs="+", help="image files, folders (recursive) or globs")
    p.add_argument("--model", "-m", help="ONNX classifier (default: the built-in quantized EfficientNet-Lite0)")
    add_target_args(p)
    p.add_argument("--labels", help="labels file, one class per line (default: ImageNet-1k for 1000 classes)")
    p.add_argument("--top", type=positive_int, default=5, help="how many classes to show (default 5)")
    add_preprocess_args(p)
    soft = p.add_mutually_exclusive_group()
    soft.add_argument("--softmax", dest="softmax", action="store_true", default=None,
                      help="always apply softmax (default: decided from the graph, once per model)")
    soft.add_argument("--no-softmax", dest="softmax", action="store_false", help="never apply softmax")
    p.add_argument("--output-name", metavar="NAME",
                   help="the model output holding the class scores (default: the one that is a class vector)")
    g = p.add_argument_group("folders, globs, -o, --batch, --workers: pipelined, decoding overlaps inference, one "
                             "line per image on stdout")
    g.add_argument("-o", "--output", help="stream results to a .csv or .jsonl file")
    g.add_argument("--resume", action="store_true", help="skip images already in --output")
    g.add_argument("--batch", type=positive_int, default=1,
                   help="images per inference (model with a dynamic batch dim)")
    g.add_argument("--workers", type=positive_int, help="decode/preprocess threads (default: min(4, CPUs))")
    g.add_argument("--threads", type=positive_int, help="ONNX Runtime intra-op threads (also for single images)")
    g.add_argument("--no-draft", action="store_true",
                   help="decode JPEGs at full size (images listed one by one always are)")
    add_download_args(p)
    add_json_arg(p)
    p.set_defaults(handler=run)


def render(result: ClassifyResult, top: int) -> None:
    """Plain text, written as it is (no rich: the one-image path is the one whose start-up users time)."""
    import sys

    from onnpu.cli.render import placement_lines, plain_table

    lines = [f"{result.model} on {result.target.describe()}",
             *placement_lines(result.target, result.providers, result.placement),
             *(f"  {note}" for note in result.notes)]
    for image in result.images:
        rows = [(str(rank), str(p.index), p.label, f"{p.score:.4f}") for rank, p in enumerate(image.top[:top], 1)]
        lines += ["", f"{image.image}  ({image.latency_ms:.1f} ms)",
                  *plain_table(("#", "class", "label", "score"), rows, (True, True, False, True))]
    lines += ["", f"session {result.session_seconds * 1000:.0f} ms; median latency {result.median_latency_ms:.2f} ms "
              "(warm-up excluded)"]
    sys.stdout.write("\n".join(lines) + "\n")


def _default_model() -> str:
    """The default model, built here; where torch is missing (a board: 427 MB of torch for aarch64 just to build
    it), the way to bring it from a workstation instead."""
    from onnpu import zoo
    from onnpu.errors import OnnpuError
    from onnpu.runtime.socs import identify_board, on_board
    from onnpu.zoo.builder import ZooDependencyError

    try:
        return str(zoo.build().quantized_model)
    except ZooDependencyError as exc:
        board = identify_board().soc if on_board() else None
        soc = board.name.lower() if board else "<this board's SoC>"
        steps = (f'on a workstation: `onnpu zoo build`, then `onnpu compile "$(onnpu zoo path | tail -1)" --soc {soc} '
                 "-o efficientnet/`; copy the efficientnet/ folder to this board and run "
                 "`onnpu classify IMAGE --model efficientnet/ --target npu`")
        raise OnnpuError(f"classify without --model builds the default model here, and {exc}",
                         hint=f"{steps} (or here: {exc.hint})") from exc


def _folder_mode(args: argparse.Namespace) -> bool:
    from pathlib import Path

    return bool(args.output or args.resume or args.batch > 1 or args.workers is not None or
                any(Path(i).is_dir() or any(ch in i for ch in "*?[") for i in args.images))


def _run_folder(args: argparse.Namespace) -> int:
    import sys

    if args.resume and not args.output:
        refuse(args, "--resume: continues a results file, give it with -o")
    from onnpu.cli.console import escape, out, print_json
    from onnpu.cli.sources import local_labels, local_model
    from onnpu.errors import ExitCode
    from onnpu.vision.folder import classify_folder

    target = target_from(args)
    model = local_model(args.model, args) or _default_model()

    def line(image: str, top: list[tuple[int, str, float]] | None, error: str | None) -> None:
        """One line per image on stdout (without -o): the image, then index, label and score of each of the top
        classes, tab-separated."""
        if not args.json and not args.output:
            classes = "\t".join(f"{i}\t{label}\t{score:.4f}" for i, label, score in top or [])
            text = f"{image}\t{classes}" if top else f"{image}\terror: {error}"
            sys.stdout.write(text.replace("\n", " ") + "\n")  # as it is: rich would expand the tabs

    summary = classify_folder(args.images, model, target, output=args.output, resume=args.resume, top=args.top,
                              batch=args.batch, workers=args.workers, threads=args.threads,
                              draft=not args.no_draft, preprocess=preprocess_from(args),
                              labels=local_labels(args.labels), softmax_mode=args.softmax,
                              output_name=args.output_name, cache=not args.no_cache, dims=parse_dims(args.dim),
                              on_result=line)
    if summary.failed:  # some images could not be read: the others are classified
        code = ExitCode.PARTIAL if summary.classified else ExitCode.ERROR
    else:  # nothing to classify at all (only non-image files) is an error; everything already done is not
        code = ExitCode.ERROR if summary.total and not summary.classified and not summary.resumed else ExitCode.OK
    if args.json:
        print_json(summary.to_dict())
        return int(code)
    if summary.resumed and not summary.classified and not summary.failed:
        out().print(f"nothing left to do: all {summary.resumed} images are already in {escape(str(summary.output))}")
        return int(code)
    out().print(f"{summary.classified} classified, {summary.failed} unreadable, {summary.skipped_non_images} "
                f"non-images skipped, {summary.resumed} already done; {summary.images_per_s:.1f} images/s "
                f"({summary.workers} decode threads, batch {summary.batch}, JPEG draft "
                f"{'on' if summary.draft else 'off'}); {escape(summary.scores)}; {escape(summary.placement)}"
                + (f"; results in {escape(summary.output)}" if summary.output else ""), soft_wrap=True)
    return int(code)


def run(args: argparse.Namespace) -> int:
    if _folder_mode(args):
        return _run_folder(args)
    from onnpu.cli.console import print_json
    from onnpu.cli.sources import local_file, local_labels, local_model
    from onnpu.vision.classify import classify

    target = target_from(args)
    images = [local_file(i) or i for i in args.images]
    model = local_model(args.model, args) or _default_model()
    result = classify(images, model, target, labels=local_labels(args.labels), top=args.top,
                      preprocess=preprocess_from(args), softmax_mode=args.softmax, dims=parse_dims(args.dim),
                      output=args.output_name, cache=not args.no_cache, threads=args.threads)
    if args.json:
        print_json(result.to_dict())
    else:
        render(result, args.top)
    return 0
