"""``detect --eval``: models x targets on the images of a COCO annotations file, side by side — mAP@[.5:.95] and
mAP@.5 of each cell (``evaluate_coco``), and each cell's detections against the first cell's (the reference,
e.g. the float model on the CPU: matched / missed / extra, box error in pixels, ``match_detections``). A cell that
cannot run (a float model on an HTP that runs no float) says why; the others run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from onnpu.errors import InputDataError, OnnpuError
from onnpu.runtime.targets import Target
from onnpu.vision.detection.coco import coco_results
from onnpu.vision.detection.detector import DetectPreprocess
from onnpu.vision.detection.evaluate import CocoScores, category_map, evaluate_coco, load_annotations
from onnpu.vision.detection.folder import detect_folder
from onnpu.vision.detection.matching import MatchStats, match_detections
from onnpu.vision.detection.results import ImageDetections, detection_labels


@dataclass
class EvalCell:
    model: str
    target: str
    scores: CocoScores | None = None
    versus_reference: MatchStats | None = None
    images_per_s: float = 0.0
    placement: str = ""
    head: str = ""
    error: str | None = None
    failed_images: int = 0

    @property
    def label(self) -> str:
        return f"{Path(self.model).name} @ {self.target}"

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "target": self.target, "label": self.label,
                "scores": self.scores.to_dict() if self.scores else None,
                "versus_reference": self.versus_reference.to_dict() if self.versus_reference else None,
                "images_per_s": self.images_per_s, "placement": self.placement, "head": self.head,
                "error": self.error, "failed_images": self.failed_images}


@dataclass
class DetectEvalResult:
    annotations: str
    images: int
    annotated_boxes: int
    cells: list[EvalCell] = field(default_factory=list)

    @property
    def reference(self) -> EvalCell | None:
        return next((c for c in self.cells if c.error is None), None)

    def to_dict(self) -> dict[str, Any]:
        ref = self.reference
        return {"schema": "onnpu.detect-eval/1", "annotations": self.annotations, "images": self.images,
                "annotated_boxes": self.annotated_boxes, "reference": ref.label if ref else None,
                "cells": [c.to_dict() for c in self.cells]}


def above(result: ImageDetections, conf: float) -> ImageDetections:
    return replace(result, boxes=[b for b in result.boxes if b.score >= conf])


def annotated_images(folder: str | Path, gt: dict[str, Any]) -> list[tuple[int, Path]]:
    """The annotations' images, found under ``folder`` by their ``file_name``."""
    root = Path(folder)
    if not root.is_dir():
        raise InputDataError(f"{root}: with --eval, give the folder that holds the annotated images",
                             hint="e.g. onnpu detect val2017/ --eval instances_val2017.json --model m.onnx")
    found = [(int(i["id"]), root / str(i["file_name"])) for i in gt["images"]]
    missing = [p for _, p in found if not p.is_file()]
    if missing:
        raise InputDataError(f"{len(missing)} of the {len(found)} annotated images are not in {root} "
                             f"(first: {missing[0].name})", hint="give the folder the annotations' file_name "
                             "entries are relative to")
    if not found:
        raise InputDataError("the annotations list no images", hint="check the annotations file")
    return found


def evaluate_detectors(folder: str | Path, annotations: str | Path, models: Sequence[str | Path],
                       targets: Sequence[Target], *, head: str | None = None, labels: str | None = None,
                       conf: float = 0.001, iou: float = 0.6, max_det: int = 300,
                       preprocess: DetectPreprocess | None = None, batch: int = 1, workers: int | None = None,
                       threads: int | None = None, draft: bool = True, cache: bool = True,
                       compare_conf: float = 0.25) -> DetectEvalResult:
    """Every model on every target over the annotated images. mAP wants low thresholds (``conf`` 0.001, ``iou``
    0.6, as the YOLO evaluations use); the box comparison between cells uses the detections scoring at least
    ``compare_conf`` (what ``detect`` shows by default)."""
    gt = load_annotations(annotations)
    images = annotated_images(folder, gt)
    ids = {str(p): i for i, p in images}
    by_name = {Path(p).name: i for p, i in ids.items()}
    result = DetectEvalResult(str(annotations), len(images), len(gt["annotations"]))
    reference: list[ImageDetections] | None = None
    for model in models:
        for target in targets:
            cell = EvalCell(str(model), target.name + (f" {target.soc.name}" if target.soc else ""))
            result.cells.append(cell)
            rows: list[ImageDetections] = []
            try:
                summary = detect_folder([p for _, p in images], model, target, batch=batch, workers=workers,
                                        threads=threads, draft=draft, head=head, labels=labels, conf=conf, iou=iou,
                                        max_det=max_det, preprocess=preprocess, cache=cache, on_result=rows.append)
            except OnnpuError as exc:
                cell.error = str(exc).splitlines()[0]
                continue
            classes = summary.num_classes
            names = detection_labels(labels, classes, model, summary.ids)
            order = {str(p): k for k, (_, p) in enumerate(images)}
            rows.sort(key=lambda r: order.get(r.image, 0))
            mapping = category_map(gt, names, classes)
            cell.scores = evaluate_coco(gt, coco_results(rows, categories=mapping, by_name=by_name),
                                        [i for i, _ in images])
            cell.images_per_s, cell.placement, cell.head = summary.images_per_s, summary.placement, summary.head
            cell.failed_images = summary.failed
            confident = [above(r, compare_conf) for r in rows]
            if reference is None:
                reference = confident
            else:
                cell.versus_reference = match_detections(reference, confident)
    return result
