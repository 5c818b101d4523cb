"""COCO evaluation: mAP@[.5:.95] and mAP@.5 of detections against COCO-format annotations, with a kept COCO
evaluator — faster-coco-eval (the ``eval`` extra; measured ~4.5x faster than pycocotools on the same data with
identical numbers, see BENCHMARKS.md), else pycocotools when that is what is installed. ``evaluate_coco(gt,
results)`` is the library entry point; ``category_map`` maps a model's classes onto the annotations'
categories."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from onnpu.errors import InputDataError
from onnpu.guards import read_regular
from onnpu.vision.detection.coco import COCO80_TO_91

ANNOTATIONS_LIMIT = 2_000_000_000
HINT = "give COCO-format annotations: {\"images\": [...], \"annotations\": [...], \"categories\": [...]}"


@dataclass
class CocoScores:
    map: float  # mAP@[.5:.95]
    map50: float
    map75: float
    images: int
    annotations: int
    detections: int
    evaluator: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_annotations(path: str | Path) -> dict[str, Any]:
    """A COCO annotations file, checked for the parts evaluation needs."""
    p = Path(path)
    raw = read_regular(p, "annotations file", limit=ANNOTATIONS_LIMIT)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InputDataError(f"{p}: not valid JSON ({str(exc)[:120]})", hint=HINT) from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("images", "annotations",
                                                                                        "categories")):
        raise InputDataError(f"{p}: not COCO annotations (needs lists images, annotations, categories)", hint=HINT)
    for image in data["images"]:
        if not isinstance(image, dict) or not isinstance(image.get("id"), int) or \
                not isinstance(image.get("file_name"), str):
            raise InputDataError(f"{p}: an image entry without an integer id and a file_name", hint=HINT)
    for k, ann in enumerate(data["annotations"], 1):
        bbox = ann.get("bbox") if isinstance(ann, dict) else None
        if not isinstance(bbox, list) or len(bbox) != 4 or not all(isinstance(v, (int, float)) for v in bbox):
            raise InputDataError(f"{p}: an annotation without a bbox [x, y, width, height]", hint=HINT)
        ann.setdefault("iscrowd", 0)
        ann.setdefault("area", float(bbox[2]) * float(bbox[3]))
        ann.setdefault("id", k)
    return data


def category_map(gt: Mapping[str, Any], labels: Sequence[str], num_classes: int) -> dict[int, int]:
    """Model class → category id: COCO's own ids for an 80-class model on COCO's categories; else by name (the
    labels against the categories' names); else by order (class k → the k-th category id, sorted)."""
    cats = sorted((int(c["id"]), str(c.get("name", ""))) for c in gt["categories"])
    ids = {i for i, _ in cats}
    if num_classes in (0, 80) and ids <= set(COCO80_TO_91) and len(ids) > 1 and \
            {n for _, n in cats} <= set(labels):
        return dict(enumerate(COCO80_TO_91))
    by_name = {name: i for i, name in cats}
    named = {k: by_name[label] for k, label in enumerate(labels) if label in by_name}
    if len(named) == len(cats):
        return named
    return {k: cat for k, (cat, _) in enumerate(cats)}


def _evaluator() -> tuple[Any, Any, str]:
    try:
        from faster_coco_eval import COCO, COCOeval_faster

        return COCO, COCOeval_faster, "faster-coco-eval"
    except ImportError:
        pass
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        return COCO, COCOeval, "pycocotools"
    except ImportError:
        raise InputDataError("COCO evaluation needs faster-coco-eval (or pycocotools)",
                             hint="pip install 'onnpu[eval]'") from None


def evaluate_coco(gt: Mapping[str, Any] | str | Path, results: Sequence[Mapping[str, Any]],
                  image_ids: Sequence[int] | None = None) -> CocoScores:
    """mAP of ``results`` (COCO results format) against ``gt`` (annotations, or their file), over ``image_ids``
    (default: every image of the annotations)."""
    data = load_annotations(gt) if isinstance(gt, (str, Path)) else dict(gt)
    coco_cls, eval_cls, name = _evaluator()
    ids = list(image_ids) if image_ids is not None else [int(i["id"]) for i in data["images"]]
    annotations = [a for a in data["annotations"] if a["image_id"] in set(ids)]
    with contextlib.redirect_stdout(io.StringIO()):  # both evaluators print their progress
        truth = coco_cls()
        truth.dataset = json.loads(json.dumps(data))
        truth.createIndex()
        if not results:
            return CocoScores(0.0, 0.0, 0.0, len(ids), len(annotations), 0, name)
        found = truth.loadRes([dict(r) for r in results])
        ev = eval_cls(truth, found, "bbox")
        ev.params.imgIds = ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    stats = [max(0.0, float(v)) for v in ev.stats[:3]]  # -1 means no ground truth: counted as 0
    return CocoScores(stats[0], stats[1], stats[2], len(ids), len(annotations), len(results), name)
