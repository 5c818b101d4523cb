"""``onnpu eval MODEL... --data DATA``: top-1 / top-5 on labelled images per model × target, the float model
beside the quantized ones, differences with confidence intervals, and the inputs whose answer changed."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from onnpu.cli.args import add_json_arg, add_preprocess_args, add_target_args, parse_dims, positive_int, preprocess_from

if TYPE_CHECKING:
    from onnpu.evaluation.detection import DetectionEvalResult as EvalDetectionResult
    from onnpu.evaluation.result import EvalResult
    from onnpu.runtime.targets import Target

CHANGED_LISTED = 10


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="accuracy on labelled images (top-1/top-5), float vs quantized, cpu vs npu")
    p.add_argument("models", nargs="+", metavar="MODEL",
                   help="classifiers: a float model (the reference, run on the CPU) and its quantized copies")
    p.add_argument("--data", required=True,
                   help="labelled images: an ImageFolder tree (one folder per class) or a CSV/JSONL of path,label")
    add_target_args(p, "cpu", many=True, flag="--targets")
    p.add_argument("--labels", help="the model's labels file, one class per line (default: ImageNet-1k for 1000 "
                                    "classes); folder names and labels are matched to it")
    add_preprocess_args(p)
    p.add_argument("--output-name", metavar="NAME", help="the model output holding the class scores")
    p.add_argument("--annotations", metavar="COCO_JSON",
                   help="detection: COCO annotations of the images in --data (mAP per model x target, with "
                        "`onnpu detect`'s decoder and COCO evaluator)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--workers", type=positive_int,
                   help="worker processes on this machine (default: one per core; 1 runs in this process)")
    g.add_argument("--ray", metavar="auto|ADDRESS",
                   help="run the images as a Ray Data job on a cluster (`auto`: the running one, or a local one; "
                        "needs pip install 'onnpu[ray]')")
    p.add_argument("--report", metavar="DIR",
                   help="write report.json, report.md, a plot (accuracy.png, or map.png with --annotations) and "
                   "report.html")
    add_json_arg(p)
    p.set_defaults(handler=run)


def render(result: EvalResult) -> None:
    from rich.table import Table

    from onnpu.cli.console import escape, out

    skipped = sum(result.skipped.values())
    table = Table(title=f"{result.evaluated} images of {escape(result.data)}, {result.classes} classes"
                        + (f"; {skipped} skipped" if skipped else ""), title_justify="left")
    for col in ("model on target", "top-1", "95 % CI", "top-5", "top-1 vs reference [95 % CI]", "McNemar p",
                "placement"):
        table.add_column(col, justify="left" if col in ("model on target", "placement") else "right")
    for row in result.rows:
        d = row.versus_reference
        table.add_row(escape(row.label), f"{100 * row.top1:.2f} %",
                      f"{100 * row.top1_interval[0]:.1f}–{100 * row.top1_interval[1]:.1f}", f"{100 * row.top5:.2f} %",
                      "reference" if d is None else f"{100 * d.delta:+.2f} [{100 * d.low:+.2f}, {100 * d.high:+.2f}]",
                      "" if d is None else f"{d.p_value:.3g}", escape(str(row.session.get("placement", ""))))
    out().print(table)
    if result.changed:
        out().print(f"{len(result.changed)} top-1 answers changed from {escape(result.reference.label)}"
                    + (f" (the first {CHANGED_LISTED}; all in --json / --report)" if len(result.changed) >
                       CHANGED_LISTED else "") + ":")
        for c in result.changed[:CHANGED_LISTED]:
            out().print(f"  {escape(c.image)} ({escape(c.label)}): {escape(c.reference_answer)} → {escape(c.answer)} "
                        f"on {escape(c.row)}", soft_wrap=True)
    if result.skipped:
        out().print("skipped: " + ", ".join(f"{n} {escape(reason)}" for reason, n in result.skipped.items()))
    engine = result.engine
    out().print(f"{result.images_per_s:.1f} images/s ({escape(engine['engine'])}, {engine.get('workers', '?')} "
                "workers)" + "".join(f"; {escape(n)}" for n in result.notes), soft_wrap=True)


def render_detection(result: EvalDetectionResult) -> None:
    from rich.table import Table

    from onnpu.cli.console import escape, out

    table = Table(title=f"{result.images} images, {result.annotated_boxes} annotated boxes "
                        f"({escape(result.annotations)})", title_justify="left")
    for col in ("model on target", "mAP@[.5:.95]", "mAP@.5", "mAP vs reference [95 % CI]", "placement"):
        table.add_column(col, justify="left" if col in ("model on target", "placement") else "right")
    for row in result.rows:
        d = row.versus_reference
        table.add_row(escape(row.label), f"{row.scores.map:.4f}", f"{row.scores.map50:.4f}",
                      "reference" if d is None else f"{d['delta']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]",
                      escape(row.placement))
    out().print(table)
    if result.changed:
        out().print(f"{len(result.changed)} images whose confident detections changed from "
                    f"{escape(result.reference.label)}:")
        for c in result.changed[:CHANGED_LISTED]:
            out().print(f"  {escape(c['image'])} on {escape(c['row'])}: {c['missed']} missed, {c['extra']} extra",
                        soft_wrap=True)


def _run_detection(args: argparse.Namespace, targets: list[Target], models: list[str]) -> int:
    from onnpu.cli.args import refuse
    from onnpu.cli.console import print_json
    from onnpu.cli.sources import local_labels
    from onnpu.evaluation.detection import evaluate_detection
    from onnpu.evaluation.run import plan_rows

    if args.output_name:
        refuse(args, "--output-name: not with --annotations (a detector's head names its outputs)")
    if args.report:
        from onnpu.guards import check_destination

        check_destination(args.report, what="report", flag="--report", folder=True)  # before any work
    rows, _ = plan_rows(models, targets)
    result = evaluate_detection(rows, args.data, args.annotations, labels=local_labels(args.labels),
                                cache=not args.no_cache, workers=args.workers, ray=args.ray)
    if args.report:
        from onnpu.evaluation.detection_report import write_detection_report

        written = write_detection_report(result, args.report)
    if args.json:
        print_json(result.to_dict())
    else:
        render_detection(result)
        if args.report:
            from onnpu.cli.console import escape, out

            out().print(f"report: {escape(str(written[-1]))}")
    return 0


def run(args: argparse.Namespace) -> int:
    from onnpu.cli.args import targets_from
    from onnpu.cli.console import escape, out, print_json
    from onnpu.cli.sources import local_labels, local_model
    from onnpu.errors import ExitCode
    from onnpu.evaluation.run import evaluate

    targets = targets_from(args, "cpu")
    models = [local_model(m, args) or m for m in args.models]
    if args.annotations:
        return _run_detection(args, targets, models)
    if args.report:
        from onnpu.guards import check_destination

        check_destination(args.report, what="report", flag="--report", folder=True)  # before any work
    result = evaluate(models, args.data, targets, labels=local_labels(args.labels), preprocess=preprocess_from(args),
                      dims=parse_dims(args.dim), output_name=args.output_name, cache=not args.no_cache,
                      workers=args.workers, ray=args.ray)
    if args.report:
        from onnpu.evaluation.report import write_report

        written = write_report(result, args.report)
    if args.json:
        print_json(result.to_dict())
    else:
        render(result)
        if args.report:
            out().print(f"report: {escape(str(written[-1]))}")
    partial = result.unreadable or result.unmatched_classes
    return int(ExitCode.PARTIAL if partial else ExitCode.OK)
