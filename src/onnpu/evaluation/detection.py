"""``onnpu eval … --annotations COCO.json``: detectors on COCO-annotated images, with ``onnpu detect``'s pipeline,
decoder and COCO evaluator (``onnpu.vision.detection``): mAP@[.5:.95] and mAP@.5 per model × target, the float
model beside the others, each row's mAP difference from the reference with a paired-bootstrap interval (the
images resampled with replacement, both rows scored on the same resample), and the images whose confident
detections changed (a box missed or added against the reference, ``match_detections``)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from onnpu import progress
from onnpu.runtime.targets import Target, require_inference
from onnpu.vision.detection.coco import coco_results
from onnpu.vision.detection.eval_run import above, annotated_images
from onnpu.vision.detection.evaluate import CocoScores, category_map, evaluate_coco, load_annotations
from onnpu.vision.detection.folder import detect_folder
from onnpu.vision.detection.matching import match_detections
from onnpu.vision.detection.results import ImageDetections, boxes_of, detection_labels

RESAMPLES = 200  # each resample is two full COCO evaluations: fewer than the classification bootstrap's
SEED = 0
CONF, IOU, COMPARE_CONF = 0.001, 0.6, 0.25  # mAP wants low thresholds; changes are judged on confident boxes


@dataclass
class DetectionRow:
    label: str
    model: str
    target: dict[str, Any]
    reference: bool
    scores: CocoScores
    placement: str
    failed_images: int
    versus_reference: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "model": self.model, "target": self.target, "reference": self.reference,
                "scores": self.scores.to_dict(), "map": self.scores.map, "map50": self.scores.map50,
                "placement": self.placement, "failed_images": self.failed_images,
                "versus_reference": self.versus_reference}


@dataclass
class DetectionEvalResult:
    data: str
    annotations: str
    images: int
    annotated_boxes: int
    rows: list[DetectionRow]
    changed: list[dict[str, Any]]
    seconds: float
    notes: list[str] = field(default_factory=list)
    engine: dict[str, Any] = field(default_factory=dict)  # this machine, or the Ray cluster that ran it

    @property
    def reference(self) -> DetectionRow:
        return next(r for r in self.rows if r.reference)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": "onnpu.eval-detection/1", "data": self.data, "annotations": self.annotations,
                "images": self.images, "annotated_boxes": self.annotated_boxes,
                "rows": [r.to_dict() for r in self.rows], "changed": self.changed, "seconds": self.seconds,
                "notes": self.notes, "engine": self.engine}


def _resampled(gt: Mapping[str, Any], results: Sequence[Mapping[str, Any]], pick: Sequence[int]
               ) -> tuple[dict[str, Any], list[dict[str, Any]], list[int]]:
    """The annotations and results of the images ``pick`` (image ids, repeats allowed), renumbered 1…n."""
    by_image_gt: dict[int, list[Mapping[str, Any]]] = {}
    for a in gt["annotations"]:
        by_image_gt.setdefault(int(a["image_id"]), []).append(a)
    by_image_dt: dict[int, list[Mapping[str, Any]]] = {}
    for r in results:
        by_image_dt.setdefault(int(r["image_id"]), []).append(r)
    info = {int(i["id"]): i for i in gt["images"]}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    found: list[dict[str, Any]] = []
    for new, old in enumerate(pick, 1):
        images.append({**info[old], "id": new})
        annotations += [{**a, "id": len(annotations) + k + 1, "image_id": new}
                        for k, a in enumerate(by_image_gt.get(old, []))]
        found += [{**r, "image_id": new} for r in by_image_dt.get(old, [])]
    return {**gt, "images": images, "annotations": annotations}, found, list(range(1, len(pick) + 1))


def map_difference(gt: Mapping[str, Any], reference: Sequence[Mapping[str, Any]],
                   candidate: Sequence[Mapping[str, Any]], image_ids: Sequence[int], delta: float,
                   resamples: int = RESAMPLES, seed: int = SEED) -> dict[str, Any]:
    """mAP(candidate) − mAP(reference) with the paired bootstrap's 95 % interval over images."""
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        pick = [image_ids[i] for i in rng.integers(0, len(image_ids), len(image_ids))]
        g, ref, ids = _resampled(gt, reference, pick)
        _, cand, _ = _resampled(gt, candidate, pick)
        draws.append(evaluate_coco(g, cand, ids).map - evaluate_coco(g, ref, ids).map)
    low, high = (float(v) for v in np.percentile(draws, [2.5, 97.5]))
    return {"delta": delta, "low": low, "high": high, "resamples": resamples}


@dataclass
class _RowRun:
    """What the evaluation needs of a row's run, from ``detect_folder`` or from the Ray job."""

    num_classes: int
    placement: str
    failed: int
    ids: str = "index"


def _on_ray(rows_spec: Sequence[Any], images: Sequence[tuple[int, Path]], address: str, cache: bool,
            labels: str | None) -> tuple[list[tuple[list[ImageDetections], _RowRun]], dict[str, Any]]:
    """Every row's detections of every image from a Ray Data job; the detectors are opened here first (an NPU
    context is compiled once, on this machine, and shipped)."""
    from onnpu.evaluation.detection_ray import open_detectors, run_ray_detection
    from onnpu.evaluation.worker import EvalSpec

    spec = EvalSpec(tuple(rows_spec), cache=cache)
    detectors = open_detectors(spec)
    records, cluster = run_ray_detection(spec, [(k, str(p)) for k, (_, p) in enumerate(images)], address,
                                         conf=CONF, iou=IOU)
    out = []
    failed = sum(rec.found is None for rec in records)
    for r, detector in enumerate(detectors):
        names = detection_labels(labels, detector.head.num_classes, detector.loaded.proto, detector.head.ids)
        dets = [ImageDetections(str(images[rec.index][1]), error=rec.error) if rec.found is None else
                ImageDetections(str(images[rec.index][1]), rec.width, rec.height, boxes_of(rec.found[r], names))
                for rec in records]
        placement = detector.loaded.placement.headline() if detector.loaded.placement else "not recorded"
        out.append((dets, _RowRun(detector.head.num_classes, placement, failed, detector.head.ids)))
    return out, cluster


def evaluate_detection(rows_spec: Sequence[Any], data: str | Path, annotations: str | Path, *,
                       labels: str | None = None, cache: bool = True, workers: int | None = None,
                       resamples: int = RESAMPLES, ray: str | None = None) -> DetectionEvalResult:
    """Every row (a model on a target, ``onnpu.evaluation.run.plan_rows``) over the annotated images; with
    ``ray`` (``auto`` or a cluster address) the detections come from a Ray Data job, with the same result."""
    start = time.perf_counter()
    gt = load_annotations(annotations)
    images = annotated_images(data, gt)
    by_name = {p.name: i for i, p in images}
    ids = [i for i, _ in images]
    order = {str(p): k for k, (_, p) in enumerate(images)}
    for row in rows_spec:
        require_inference(row.target, "eval")
    runs: list[tuple[list[ImageDetections], _RowRun]] = []
    engine: dict[str, Any] = {"engine": "this machine"}
    if ray:
        runs, engine = _on_ray(rows_spec, images, ray, cache, labels)
    else:
        for row in rows_spec:
            target: Target = row.target
            progress.note(f"detecting with {row.label}")
            dets: list[ImageDetections] = []
            summary = detect_folder([p for _, p in images], row.model, target, workers=workers, labels=labels,
                                    conf=CONF, iou=IOU, cache=cache, on_result=dets.append)
            dets.sort(key=lambda r: order.get(r.image, 0))
            runs.append((dets, _RowRun(summary.num_classes, summary.placement, summary.failed, summary.ids)))
    found: list[tuple[Any, list[ImageDetections], list[dict[str, Any]], Any]] = []
    for row, (dets, run) in zip(rows_spec, runs, strict=True):
        names = detection_labels(labels, run.num_classes, row.model, run.ids)
        results = coco_results(dets, categories=category_map(gt, names, run.num_classes), by_name=by_name)
        found.append((row, dets, results, run))
    ref_index = next(k for k, (row, *_) in enumerate(found) if row.reference)
    _, ref_dets, ref_results, _ = found[ref_index]
    ref_scores = evaluate_coco(gt, ref_results, ids)
    rows: list[DetectionRow] = []
    changed: list[dict[str, Any]] = []
    for k, (row, dets, results, summary) in enumerate(found):
        scores = ref_scores if k == ref_index else evaluate_coco(gt, results, ids)
        out = DetectionRow(row.label, row.model, row.target.to_dict(), row.reference, scores, summary.placement,
                           summary.failed)
        if k != ref_index:
            out.versus_reference = map_difference(gt, ref_results, results, ids, scores.map - ref_scores.map,
                                                   resamples)
            for ref_image, image in zip(ref_dets, dets, strict=True):
                stats = match_detections([above(ref_image, COMPARE_CONF)], [above(image, COMPARE_CONF)])
                if not stats.all_matched:
                    changed.append({"image": image.image, "row": row.label, "missed": stats.missed,
                                    "extra": stats.extra})
        rows.append(out)
    return DetectionEvalResult(str(data), str(annotations), len(images), len(gt["annotations"]), rows, changed,
                               time.perf_counter() - start, engine=engine)
