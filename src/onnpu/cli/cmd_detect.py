"""``onnpu detect IMAGE|DIR|GLOB|URL --model M``: objects in images — a table per image (``--json``: the result;
folders: one JSON line per image), ``--coco-json`` (COCO results), ``--save DIR`` (boxes drawn)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from onnpu.cli.args import (
    add_download_args,
    add_json_arg,
    add_target_args,
    parse_dims,
    positive_int,
    refuse,
    target_from,
)
from onnpu.vision.presets import SCALING

if TYPE_CHECKING:
    from onnpu.vision.detection.detector import DetectPreprocess
    from onnpu.vision.detection.eval_run import DetectEvalResult
    from onnpu.vision.detection.results import DetectResult, ImageDetections

# onnpu.vision.detection.heads.HEADS
HEAD_CHOICES = ("yolov8", "yolov5", "yolox", "boxes-scores", "dfl", "centernet", "retinaface", "nms")
FIT_CHOICES = ("letterbox", "corner", "stretch")


def unit_interval(text: str) -> float:
    """A number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 0 to 1") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 0 to 1")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="detect objects in images (boxes, classes, scores), on cpu or npu")
    p.add_argument("images", nargs="+", help="image files or URLs, folders (recursive) or globs")
    p.add_argument("--model", "-m", required=True, action="append",
                   help="ONNX detector (file or URL); with --eval repeatable (e.g. float and quantized)")
    add_target_args(p)
    p.add_argument("--head", choices=HEAD_CHOICES,
                   help="the output layout (default: recognised from the output shapes and the graph)")
    p.add_argument("--labels", help="labels file or URL, one class per line or JSON (default: the class names the "
                                    "model carries, else COCO-80 for 80 classes)")
    p.add_argument("--conf", type=unit_interval, help="score threshold (default 0.25; with --eval 0.001)")
    p.add_argument("--iou", type=unit_interval, help="NMS IoU threshold (default 0.45; with --eval 0.6)")
    p.add_argument("--max-det", type=positive_int, default=300, help="most detections per image (default 300)")
    g = p.add_argument_group("preprocessing (default: letterbox, RGB, 0-1; YOLOX raw heads: corner, BGR, 0-255)")
    g.add_argument("--fit", choices=FIT_CHOICES, help="letterbox (centred, padded), corner (padded right and "
                   "bottom), or stretch (plain resize)")
    g.add_argument("--scaling", choices=tuple(SCALING), help="pixel scaling preset (unit: 0-1, raw: 0-255)")
    chan = g.add_mutually_exclusive_group()
    chan.add_argument("--bgr", dest="channels", action="store_const", const="BGR", help="feed channels in BGR order")
    chan.add_argument("--rgb", dest="channels", action="store_const", const="RGB", help="feed channels in RGB order")
    g.add_argument("--pad-value", type=int, default=114, help="padding grey level 0-255 (default 114)")
    g.add_argument("--size", help="HEIGHTxWIDTH for a model with a dynamic input size (default 640x640)")
    o = p.add_argument_group("outputs")
    o.add_argument("--save", metavar="DIR", help="draw the boxes and labels on each image, saved into DIR")
    o.add_argument("--coco-json", metavar="FILE", help="write the detections in COCO results format")
    f = p.add_argument_group("folders, globs, -o, --batch, --workers: pipelined, decoding overlaps inference, one "
                             "line per image on stdout (JSON lines with --json)")
    f.add_argument("-o", "--output", help="stream results to a .jsonl file")
    f.add_argument("--resume", action="store_true", help="skip images already in --output")
    f.add_argument("--batch", type=positive_int, default=1, help="images per inference (dynamic batch dim)")
    f.add_argument("--workers", type=positive_int, help="decode/preprocess threads (default: min(4, CPUs))")
    f.add_argument("--threads", type=positive_int, help="ONNX Runtime intra-op threads (also for single images)")
    f.add_argument("--no-draft", action="store_true", help="decode JPEGs at full size")
    e = p.add_argument_group("evaluation: IMAGE is the folder of the annotated images; --model repeatable, --target "
                             "a comma list (e.g. cpu,npu): every model on every target, side by side")
    e.add_argument("--eval", metavar="ANNOTATIONS", help="COCO annotations (.json): mAP@[.5:.95] and mAP@.5, and "
                   "each cell's detections against the first cell's")
    add_download_args(p)
    add_json_arg(p)
    p.set_defaults(handler=run)


def preprocess_of(args: argparse.Namespace) -> DetectPreprocess:
    from onnpu.errors import InputDataError
    from onnpu.vision.detection.detector import DetectPreprocess

    size = None
    if args.size:
        h, sep, w = args.size.lower().partition("x")
        if not sep or not h.isdigit() or not w.isdigit() or not int(h) or not int(w):
            raise InputDataError(f"--size {args.size!r} is not HEIGHTxWIDTH", hint="e.g. --size 640x640")
        size = (int(h), int(w))
    return DetectPreprocess(args.fit, args.scaling, args.channels, args.pad_value, size)


def _folder_mode(args: argparse.Namespace) -> bool:
    from pathlib import Path

    from onnpu.cli.sources import is_url

    return bool(args.output or args.resume or args.batch > 1 or args.workers is not None or
                any(not is_url(i) and (Path(i).is_dir() or any(ch in i for ch in "*?[")) for i in args.images))


def table_lines(result: ImageDetections) -> list[str]:
    from onnpu.cli.render import plain_table

    if result.error is not None:
        return [f"{result.image}  error: {result.error}"]
    head = f"{result.image}  ({result.width}x{result.height}, {len(result.boxes)} detected" + \
        (f", {result.latency_ms:.1f} ms)" if result.latency_ms is not None else ")")
    rows = [(str(k), str(b.cls), b.label, f"{b.score:.3f}", *(f"{v:.1f}" for v in b.box))
            for k, b in enumerate(result.boxes, 1)]
    if not rows:
        return [head]
    return [head, *plain_table(("#", "class", "label", "score", "x1", "y1", "x2", "y2"), rows,
                               (True, True, False, True, True, True, True, True))]


def render(result: DetectResult) -> None:
    import sys

    from onnpu.cli.render import placement_lines

    lines = [f"{result.model} on {result.target.describe()}",
             *placement_lines(result.target, result.providers, result.placement),
             *(f"  {note}" for note in result.notes)]
    for image in result.images:
        lines += ["", *table_lines(image)]
    median = result.median_latency_ms
    lines += ["", f"session {result.session_seconds * 1000:.0f} ms"
              + (f"; median latency {median:.2f} ms (inference, decoding, NMS; warm-up excluded)" if median else "")]
    sys.stdout.write("\n".join(lines) + "\n")


class Outputs:
    """``--save`` and ``--coco-json``, fed one image at a time."""

    def __init__(self, args: argparse.Namespace, inputs: list[str]) -> None:
        from onnpu.errors import OnnpuError, OutputError
        from onnpu.guards import check_destination
        from onnpu.vision.folder import collect_images

        try:  # the images read: no output may replace one of them
            images = collect_images([s for s in args.images if not str(s).startswith(("http://", "https://"))])[0]
        except OnnpuError:
            images = []
        if args.save:
            check_destination(args.save, what="drawn images", flag="--save", folder=True)
            folders = {p.resolve().parent for p in images}
            if Path(args.save).resolve() in folders:
                raise OutputError(f"{args.save}: holds input images; drawing into it would replace them",
                                  hint="choose another --save folder")
        self._save_to: str | None = args.save  # made at the first drawing: a run that fails first leaves no folder
        self.save: Path | None = None
        self.coco = args.coco_json
        if self.coco:
            check_destination(self.coco, inputs=[*inputs, *images], what="COCO results", flag="--coco-json")
        self.taken: set[str] = set()
        self.images: list[ImageDetections] = []

    def add(self, result: ImageDetections) -> None:
        if self._save_to is not None and result.error is None:
            from onnpu.storage import output_dir
            from onnpu.vision.detection.draw import save_drawn

            if self.save is None:
                self.save = output_dir(self._save_to, "drawn images", "--save")

            save_drawn(result.image, result.boxes, self.save, self.taken)
        if self.coco:
            self.images.append(result)

    def finish(self, num_classes: int, labels: str | None, ids: str = "index") -> None:
        if not self.coco:
            return
        from onnpu import jsonio
        from onnpu.storage import atomic_write
        from onnpu.vision.detection.coco import coco_results

        # COCO's category ids: an 80-class model's classes mapped to them; a model that writes them keeps its own
        rows = coco_results(self.images, coco80=labels is None and num_classes in (0, 80) and ids != "coco91")
        atomic_write(self.coco, jsonio.dumps(rows, indent=None) + "\n")


def _code(ok: int, failed: int) -> int:
    from onnpu.errors import ExitCode

    if failed:
        return int(ExitCode.PARTIAL if ok else ExitCode.ERROR)
    return int(ExitCode.OK)


def _run_folder(args: argparse.Namespace, model: str, labels: str | None) -> int:
    import sys

    if args.resume and not args.output:
        refuse(args, "--resume: continues a results file, give it with -o")
    from onnpu import jsonio
    from onnpu.cli.console import escape, out, print_json
    from onnpu.vision.detection.folder import detect_folder

    outputs = Outputs(args, [model, *([labels] if labels else [])])

    def line(result: ImageDetections) -> None:
        outputs.add(result)
        if args.output:
            return
        if args.json:
            sys.stdout.write(jsonio.dumps_line(result.to_dict()))
        elif result.error is not None:
            sys.stdout.write(f"{result.image}\terror: {result.error}".replace("\n", " ") + "\n")
        else:
            found = "\t".join(f"{b.label}\t{b.score:.3f}\t" + ",".join(f"{v:.1f}" for v in b.box) for b in result.boxes)
            sys.stdout.write(f"{result.image}\t{len(result.boxes)}" + (f"\t{found}" if found else "") + "\n")
        sys.stdout.flush()

    summary = detect_folder(args.images, model, target_from(args), output=args.output, resume=args.resume,
                            batch=args.batch, workers=args.workers, threads=args.threads, draft=not args.no_draft,
                            head=args.head, labels=labels, conf=args.conf, iou=args.iou, max_det=args.max_det,
                            preprocess=preprocess_of(args), cache=not args.no_cache, dims=parse_dims(args.dim),
                            on_result=line)
    outputs.finish(summary.num_classes, labels, summary.ids)
    code = _code(summary.detected, summary.failed)
    if summary.total and not summary.detected and not summary.failed and not summary.resumed:
        code = 1  # only non-image files
    text = (f"{summary.detected} images, {summary.detections} detections, {summary.failed} unreadable, "
            f"{summary.skipped_non_images} non-images skipped, {summary.resumed} already done; "
            f"{summary.images_per_s:.1f} images/s ({summary.workers} decode threads, batch {summary.batch}, JPEG draft "
            f"{'on' if summary.draft else 'off'}); {summary.head}; {summary.placement}"
            + (f"; results in {summary.output}" if summary.output else ""))
    if args.output:
        if args.json:
            print_json(summary.to_dict())
        else:
            out().print(escape(text), soft_wrap=True)
    else:
        from onnpu import progress

        progress.note(text)
    return code


def _run_eval(args: argparse.Namespace, labels: str | None) -> int:
    from onnpu.cli.args import targets_from
    from onnpu.cli.console import print_json
    from onnpu.cli.sources import local_model
    from onnpu.vision.detection.eval_run import evaluate_detectors

    flags = [f for f, v in (("-o", args.output), ("--resume", args.resume), ("--save", args.save),
                            ("--coco-json", args.coco_json)) if v]
    if flags:
        refuse(args, f"{', '.join(flags)}: not with --eval (it reports mAP, not detections)")
    if len(args.images) != 1:
        refuse(args, "--eval: give one folder, the one the annotations' file names are relative to")
    models = [local_model(m, args) or m for m in args.model]
    result = evaluate_detectors(args.images[0], args.eval, models, targets_from(args, "cpu"), head=args.head,
                                labels=labels, conf=0.001 if args.conf is None else args.conf,
                                iou=0.6 if args.iou is None else args.iou, max_det=args.max_det,
                                preprocess=preprocess_of(args), batch=args.batch, workers=args.workers,
                                threads=args.threads, draft=not args.no_draft, cache=not args.no_cache)
    if args.json:
        print_json(result.to_dict())
    else:
        render_eval(result)
    failed = sum(1 for c in result.cells if c.error is not None)
    return _code(len(result.cells) - failed, failed)


def render_eval(result: DetectEvalResult) -> None:
    import sys

    from onnpu.cli.render import plain_table

    ref = result.reference
    rows = []
    for cell in result.cells:
        if cell.error is not None or cell.scores is None:
            rows.append((cell.label, "-", "-", "-", "-", "-", f"did not run: {cell.error}"))
            continue
        delta = "" if ref is None or cell is ref or ref.scores is None else \
            f"{(cell.scores.map - ref.scores.map) * 100:+.1f}"
        versus = cell.versus_reference
        rows.append((cell.label, f"{cell.scores.map * 100:.1f}", f"{cell.scores.map50 * 100:.1f}", delta or "ref",
                     f"{versus.matched}/{versus.missed}/{versus.extra}" if versus else "-",
                     f"{versus.median_box_error_px:.2f}" if versus and versus.median_box_error_px is not None
                     else "-", f"{cell.images_per_s:.1f}"))
    lines = [f"{result.images} images, {result.annotated_boxes} annotated boxes ({result.annotations})",
             *plain_table(("model @ target", "mAP", "mAP@.5", "ΔmAP", "matched/missed/extra", "box err px",
                           "images/s"), rows, (False, True, True, True, True, True, True)),
             "mAP = mAP@[.5:.95] in %; matched/missed/extra and the median box error compare each cell's "
             "detections scoring ≥ 0.25 with the reference's (the first row)"]
    lines += [f"{cell.label}: {cell.placement}" for cell in result.cells if cell.placement]
    evaluator = next((c.scores.evaluator for c in result.cells if c.scores), None)
    if evaluator:
        lines.append(f"evaluator: {evaluator}")
    sys.stdout.write("\n".join(lines) + "\n")


def run(args: argparse.Namespace) -> int:
    from onnpu.cli.sources import local_file, local_labels, local_model

    labels = local_labels(args.labels)
    if args.eval:
        return _run_eval(args, labels)
    if len(args.model) > 1:
        refuse(args, "--model: one model (several only with --eval)")
    model = local_model(args.model[0], args) or args.model[0]
    args.conf = 0.25 if args.conf is None else args.conf
    args.iou = 0.45 if args.iou is None else args.iou
    if _folder_mode(args):
        return _run_folder(args, model, labels)
    from onnpu.cli.console import print_json
    from onnpu.errors import InputDataError
    from onnpu.vision.detection.detect import detect

    images = [local_file(i) or i for i in args.images]
    outputs = Outputs(args, [model, *([labels] if labels else [])])
    result = detect(images, model, target_from(args), head=args.head, labels=labels, conf=args.conf, iou=args.iou,
                    max_det=args.max_det, preprocess=preprocess_of(args), dims=parse_dims(args.dim),
                    cache=not args.no_cache, threads=args.threads)
    if result.failed == len(result.images):
        first = result.images[0].error or ""
        raise InputDataError(first if len(result.images) == 1 else f"no image could be read (first: {first})",
                             hint="pass JPEG, PNG, WebP or BMP images")
    for image in result.images:
        outputs.add(image)
    outputs.finish(result.head.num_classes, labels, result.head.ids)
    if args.json:
        print_json(result.to_dict())
    else:
        render(result)
    return _code(len(result.images) - result.failed, result.failed)
