"""What ``detect`` returns: per image, its size and its detections (class, label, score, box xyxy in original
pixels) or why it could not be read; for the run, the model, target, head and preprocessing."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import onnx

from onnpu.model.exporter_metadata import class_names
from onnpu.runtime.placement import PlacementSummary
from onnpu.runtime.targets import Target
from onnpu.vision.detection.coco_ids import COCO80_TO_91
from onnpu.vision.detection.decoding import Detections
from onnpu.vision.detection.heads import Head
from onnpu.vision.labels import builtin_labels, load_labels

COCO80_LABELS = "coco80_labels.txt"


def detection_labels(path: str | None, num_classes: int,
                     model: str | Path | onnx.ModelProto | None = None, ids: str = "index") -> list[str]:
    """Class names: a labels file (text, one per line, or JSON), else the names the exporter wrote into
    ``model``'s metadata (Ultralytics ``names``) when they are one per class, else COCO-80 for an 80-class model,
    else class numbers. ``num_classes`` 0: not known (a model that ends in NMS): a file's labels are taken as they
    are, and the model's own or the built-in COCO-80 names are used. ``ids`` "coco91": the model writes COCO's
    category ids (TF Object Detection API): COCO's names by id, 0 the background; "face": a face detector."""
    if path is not None:
        return load_labels(path, num_classes or None)
    embedded = _model_names(model)
    if embedded is not None and (num_classes == 0 or len(embedded) == num_classes):
        return embedded
    if ids == "face" and num_classes == 1:
        return ["face"]
    if ids == "coco91":
        by_id = dict(zip(COCO80_TO_91, builtin_labels(COCO80_LABELS), strict=True))
        return ["background", *(by_id.get(i, f"class {i}") for i in range(1, max(COCO80_TO_91) + 1))]
    if num_classes in (0, 80):
        return builtin_labels(COCO80_LABELS)
    return [f"class {i}" for i in range(num_classes)]


def assumed_labels(path: str | None, head: Head, model: str | Path | onnx.ModelProto | None) -> str | None:
    """A note when the class names are a guess: a model that ends in NMS does not say how many classes it has, and
    without a labels file or names of its own its class ids are read as COCO-80's."""
    if path is not None or head.kind != "nms" or head.ids != "index" or _model_names(model) is not None:
        return None
    return ("class names: COCO-80's assumed (the model ends in NMS and names no classes; a table or face detector "
            "is not COCO's) — --labels FILE names them")


def _model_names(model: str | Path | onnx.ModelProto | None) -> list[str] | None:
    if model is None:
        return None
    if not isinstance(model, (str, Path)):
        return class_names(model)
    path = Path(model)
    if path.suffix.lower() != ".onnx" or not path.is_file():
        return None
    from onnpu.model.files import read_model

    return class_names(read_model(path, load_external_data=False))


def label_of(labels: list[str], cls: int) -> str:
    return labels[cls] if 0 <= cls < len(labels) else f"class {cls}"


@dataclass
class Box:
    cls: int
    label: str
    score: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in original pixels
    points: list[tuple[float, float]] | None = None  # landmarks (x, y) in original pixels, for heads that give them

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"class": self.cls, "label": self.label, "score": round(self.score, 6),
                               "box": [round(v, 2) for v in self.box]}
        if self.points is not None:
            out["landmarks"] = [[round(x, 2), round(y, 2)] for x, y in self.points]
        return out


def boxes_of(found: Detections, labels: list[str]) -> list[Box]:
    points = found.points if found.points is not None else [None] * len(found)
    return [Box(int(c), label_of(labels, int(c)), float(s), (float(b[0]), float(b[1]), float(b[2]), float(b[3])),
                None if p is None else [(float(x), float(y)) for x, y in p])
            for b, s, c, p in zip(found.boxes, found.scores, found.classes, points, strict=True)]


@dataclass
class ImageDetections:
    image: str
    width: int = 0
    height: int = 0
    boxes: list[Box] = field(default_factory=list)
    latency_ms: float | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.error is not None:
            return {"image": self.image, "error": self.error}
        return {"image": self.image, "width": self.width, "height": self.height, "latency_ms": self.latency_ms,
                "detections": [b.to_dict() for b in self.boxes]}


@dataclass
class DetectResult:
    model: str
    target: Target
    providers: list[str]
    placement: PlacementSummary | None
    session_seconds: float
    head: Head
    preprocess: dict[str, Any]
    thresholds: dict[str, float]
    images: list[ImageDetections]
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(1 for i in self.images if i.error is not None)

    @property
    def median_latency_ms(self) -> float | None:
        times = [i.latency_ms for i in self.images if i.latency_ms is not None]
        return statistics.median(times) if times else None

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "target": self.target.describe(), "providers": self.providers,
                "placement": self.placement.to_dict() if self.placement else None,
                "session_seconds": self.session_seconds, "median_latency_ms": self.median_latency_ms,
                "head": self.head.to_dict(), "preprocess": self.preprocess, "thresholds": self.thresholds,
                "notes": self.notes, "images": [i.to_dict() for i in self.images]}
