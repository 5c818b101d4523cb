"""Model outputs → detections: each head's layout decoded to boxes (xyxy, input pixels), scores and classes,
then the confidence threshold and class-aware NMS. ``decode(outputs, head)`` is the library entry point; the
boxes go back to original pixels with ``Placement.to_original``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from onnpu.errors import InputDataError
from onnpu.vision.detection.heads import Head
from onnpu.vision.detection.letterbox import Placement
from onnpu.vision.detection.suppression import nms


@dataclass
class Detections:
    """Detections of one image: ``boxes`` [K, 4] xyxy (float64), ``scores`` [K], ``classes`` [K] (int64), best
    first; ``points`` [K, P, 2] (x, y) for a head that gives landmarks (face detectors: eyes, nose, mouth
    corners), else None."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    points: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.scores)

    @staticmethod
    def empty() -> Detections:
        return Detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64))

    def mapped(self, placement: Placement) -> Detections:
        """These detections in the original image's pixels: boxes clipped to the image, landmarks mapped alike but
        not clipped (a face cut by the image's edge keeps the points the model put outside it). A box that is no
        box there — a coordinate not finite, a corner out of order, nothing left inside the image — or a score
        not finite or a negative class id is left out: no drawing, JSON row or COCO result can hold it."""
        points = None if self.points is None else placement.points_to_original(self.points)
        boxes = placement.to_original(self.boxes)
        with np.errstate(invalid="ignore"):
            real = np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1]) \
                & np.isfinite(self.scores) & (self.classes >= 0)
        return Detections(boxes, self.scores, self.classes, points).take(np.flatnonzero(real))

    def take(self, index: np.ndarray) -> Detections:
        return Detections(self.boxes[index], self.scores[index], self.classes[index],
                          None if self.points is None else self.points[index])


def cxcywh_to_xyxy(b: np.ndarray) -> np.ndarray:
    half = b[:, 2:4] / 2
    return np.concatenate([b[:, :2] - half, b[:, :2] + half], axis=1)


@lru_cache(maxsize=8)
def _grid(height: int, width: int, strides: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """YOLOX's cells, level by level, row by row: (x, y) of each cell and its stride."""
    cells, steps = [], []
    for s in strides:
        h, w = -(-height // s), -(-width // s)
        ys, xs = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
        cells.append(np.stack([xs.ravel(), ys.ravel()], 1))
        steps.append(np.full(h * w, s, np.float32))
    return np.concatenate(cells), np.concatenate(steps)


def _best_class(scores: np.ndarray, conf: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``scores`` [C, B] → (indices of boxes whose best class score passes ``conf``, that score, that class)."""
    best = scores.max(axis=0)
    keep = np.flatnonzero(best > conf)
    sub = scores[:, keep]
    cls = sub.argmax(axis=0)
    return keep, best[keep], cls


def _yolov8(a: np.ndarray, head: Head, conf: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if head.transposed:
        a = a.T
    keep, score, cls = _best_class(a[4:4 + head.num_classes], conf)  # columns past C: masks, keypoints
    return in_pixels(cxcywh_to_xyxy(a[:4, keep].T.astype(np.float64)), head, a[:4]), score, cls


def _objectness(a: np.ndarray, head: Head, conf: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """YOLOv5/v7 and YOLOX rows [B, 5+C]: score = objectness x class score."""
    obj = a[:, 4]
    rows = np.flatnonzero(obj > conf)  # a score never exceeds its objectness
    sub = a[rows]
    if head.kind == "yolox" and not head.decoded:
        cells, steps = _grid(*head.input_size, head.strides)
        if len(cells) != len(a):
            raise InputDataError(f"{head.outputs[0]}: {len(a)} boxes, but strides {head.strides} on a "
                                 f"{head.input_size[1]}x{head.input_size[0]} input make {len(cells)} cells",
                                 hint="check the input size (--size) or name another --head")
        xy = (sub[:, :2] + cells[rows]) * steps[rows, None]
        wh = np.exp(np.minimum(sub[:, 2:4], 30)) * steps[rows, None]
        box = np.concatenate([xy, wh], axis=1)
    else:
        box = sub[:, :4]
    if a.shape[1] > 5:
        cls_scores = sub[:, 5:] * sub[:, 4:5]
        keep, score, cls = _best_class(cls_scores.T, conf)
    else:
        keep = np.flatnonzero(sub[:, 4] > conf)
        score, cls = sub[keep, 4], np.zeros(len(keep), np.int64)
    return cxcywh_to_xyxy(box[keep].astype(np.float64)), score, cls


NORMALISED = 1.5  # boxes no coordinate of which exceeds this are in units of the input size (SSD, UltraFace)


def in_pixels(boxes: np.ndarray, head: Head, candidates: np.ndarray | None = None) -> np.ndarray:
    """xyxy boxes in input pixels: boxes given relative to the input size (every coordinate of every candidate
    within 0..1, as SSD-style and many face detectors export them) are scaled by its width and height.
    ``candidates``: every box of the output, when ``boxes`` are only those kept."""
    boxes = boxes.astype(np.float64)
    every = boxes if candidates is None else candidates
    height, width = head.input_size
    if every.size and min(height, width) > 8 * NORMALISED and np.abs(every).max() <= NORMALISED:
        return boxes * np.array([width, height, width, height], np.float64)
    return boxes


def _boxes_scores(outputs: Mapping[str, np.ndarray], head: Head, index: int, conf: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    boxes = outputs[head.layout["boxes"]]
    scores = outputs[head.layout["scores"]]
    boxes = boxes[index] if boxes.ndim == 3 else boxes
    scores = scores[index] if scores.ndim == 3 else scores
    by_class = scores if head.transposed else scores.T
    keep, score, cls = _best_class(by_class[1:] if head.background else by_class, conf)
    return in_pixels(boxes, head)[keep], score, cls


def _ended_in_nms(outputs: Mapping[str, np.ndarray], head: Head, index: int, conf: float) -> Detections:
    if "rows" in head.layout:
        rows = outputs[head.layout["rows"]]
        if rows.ndim == 3:
            rows = rows[index]
        if head.layout.get("order") == "class-score-xyxy":  # PaddleDetection (a batch of one): a row per detection
            if index:
                raise InputDataError(f"{head.layout['rows']}: PaddleDetection's NMS rows hold every image of a batch",
                                     hint="run this model with --batch 1")
            rows = rows[rows[:, 0] >= 0]  # a class of -1: no detection
            boxes, score, cls = rows[:, 2:6], rows[:, 1], rows[:, 0]
        elif "classes" in head.layout:  # mmdeploy: x1, y1, x2, y2, score; the classes in their own output
            labels = np.asarray(outputs[head.layout["classes"]])
            boxes, score, cls = rows[:, :4], rows[:, 4], labels[index] if labels.ndim == 2 else labels
        elif rows.shape[1] == 7:  # batch index, x1, y1, x2, y2, class, score (YOLOv7 end-to-end)
            rows = rows[rows[:, 0] == index]
            boxes, cls, score = rows[:, 1:5], rows[:, 5], rows[:, 6]
        else:
            boxes, score, cls = rows[:, :4], rows[:, 4], rows[:, 5]
    else:
        boxes = outputs[head.layout["boxes"]]
        score = outputs[head.layout["scores"]]
        boxes = boxes[index] if boxes.ndim == 3 else boxes
        score = score[index] if score.ndim == 2 else score
        cls = outputs[head.layout["classes"]] if "classes" in head.layout else np.zeros(len(score))
        cls = cls[index] if cls.ndim == 2 else cls
        if head.layout.get("order") == "yxyx":
            boxes = boxes[:, [1, 0, 3, 2]]
        if "count" in head.layout:  # rows past the count are padding
            count = np.ravel(outputs[head.layout["count"]])
            value = float(count[min(index, len(count) - 1)]) if count.size else float(len(score))
            n = int(min(max(value, 0), len(score))) if np.isfinite(value) else len(score)
            boxes, score, cls = boxes[:n], score[:n], cls[:n]
    keep = np.flatnonzero(score > conf)
    keep = keep[np.argsort(-score[keep], kind="stable")]
    return Detections(in_pixels(boxes, head)[keep], score[keep].astype(np.float64), cls[keep].astype(np.int64))


SCORE_SLACK = 0.02  # scores a quantized output gives may pass 0..1 by a step


def _score_values(outputs: Mapping[str, np.ndarray], head: Head) -> tuple[str, np.ndarray] | None:
    """The output a head reads its scores from and those scores (every image of the batch), or None for heads
    whose scores are not probabilities as given (maps, distributions, NMS rows)."""
    if head.kind in ("boxes-scores", "retinaface"):
        name = head.layout["scores"]
        return name, outputs[name]
    if head.kind not in ("yolov8", "yolov5", "yolox"):
        return None
    name = head.outputs[0]
    a = outputs[name]
    a = a if a.ndim == 3 else a[None]
    if head.kind == "yolov8":
        classes = slice(4, 4 + head.num_classes)
        return name, (a[:, :, classes] if head.transposed else a[:, classes])
    return name, a[:, :, 4:]


def check_scores(outputs: Mapping[str, np.ndarray], head: Head) -> None:
    """Refuse a head whose scores are not probabilities (0..1): the output was not what the head takes it for
    (offsets or landmarks read as scores, logits without their sigmoid), and every detection would be wrong."""
    found = _score_values(outputs, head)
    if found is None or found[1].size == 0:
        return
    name, scores = found
    low, high = float(np.min(scores)), float(np.max(scores))
    values = np.unique(scores) if np.isfinite(low) and np.isfinite(high) else np.zeros(1)
    # an 8-bit output shared with box coordinates has a coarse grid: a score may sit one step above 1
    slack = max(SCORE_SLACK, float(np.min(np.diff(values))) if len(values) > 1 else 0.0)
    if np.isfinite(low) and np.isfinite(high) and low >= -slack and high <= 1 + slack:
        return
    raise InputDataError(f"{name}: read as head {head.kind}, its scores run from {low:.4g} to {high:.4g}, not "
                         "probabilities in 0..1: the output is not laid out as that head's",
                         hint="name the layout with --head (see README: Detection heads); a head exported without "
                              "its sigmoid (logits) is not decoded")


CORNER_SLACK = 0.01  # the share of boxes that may have a corner out of order (quantized tiny boxes)


def check_boxes(outputs: Mapping[str, np.ndarray], head: Head) -> None:
    """Refuse a ``boxes-scores`` head whose boxes are not corners (x1 ≤ x2, y1 ≤ y2 on nearly every row): offsets
    to be decoded against priors outside the graph (SSD) or centre-size boxes, which read as corners would be
    silently wrong."""
    if head.kind != "boxes-scores":
        return
    name = head.layout["boxes"]
    boxes = np.asarray(outputs[name], np.float64).reshape(-1, 4)
    if not len(boxes):
        return
    tol = 1e-3 * max(1.0, float(np.max(np.abs(boxes))) if np.all(np.isfinite(boxes)) else 1.0)
    disordered = float(np.mean((boxes[:, 2] < boxes[:, 0] - tol) | (boxes[:, 3] < boxes[:, 1] - tol)))
    if disordered <= CORNER_SLACK:
        return
    raise InputDataError(f"{name}: read as corner boxes (x1, y1, x2, y2) of head boxes-scores, but {disordered:.0%} of "
                         "them have a corner out of order: offsets against priors outside the graph (SSD style) or "
                         "centre-size boxes, which onnpu does not decode",
                         hint="name the layout with --head (see README: Detection heads)")


def _scored(outputs: Mapping[str, np.ndarray], head: Head, index: int, conf: float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Boxes (xyxy, input pixels), best-class scores above ``conf``, classes and landmarks (or None) of image
    ``index``, before NMS, in the head's own row order (anchors, cells, priors or peaks)."""
    if head.kind == "boxes-scores":
        return (*_boxes_scores(outputs, head, index, conf), None)
    if head.kind == "centernet":
        from onnpu.vision.detection.centernet import decode_centernet

        return decode_centernet(outputs, head, index, conf)
    if head.kind == "retinaface":
        from onnpu.vision.detection.priors import decode_retinaface

        return decode_retinaface(outputs, head, index, conf)
    if head.kind == "dfl":
        from onnpu.vision.detection.dfl import decode_dfl

        return (*decode_dfl(outputs, head, index, conf), None)
    a = outputs[head.outputs[0]]
    a = a[index] if a.ndim == 3 else a
    return (*(_yolov8(a, head, conf) if head.kind == "yolov8" else _objectness(a, head, conf)), None)


ROWS_PER_ANCHOR = ("yolov8", "yolov5", "yolox", "boxes-scores", "dfl", "retinaface")


def candidates(outputs: Mapping[str, np.ndarray], head: Head, index: int = 0) -> tuple[np.ndarray, np.ndarray] | None:
    """Every candidate of image ``index`` before any threshold or NMS: boxes [A, 4] (xyxy, input pixels) and
    best-class scores [A], one row per anchor (cell, prior) in the head's order, so that two models with the same
    head (a float model and its quantized copy) can be compared anchor by anchor. None for heads whose candidates
    are not a fixed set of anchors (heatmap peaks, NMS in the graph)."""
    if head.kind not in ROWS_PER_ANCHOR:
        return None
    boxes, score, _, _ = _scored(outputs, head, index, -np.inf)
    return boxes, score


def decode(outputs: Mapping[str, np.ndarray], head: Head, *, conf: float = 0.25, iou: float = 0.45,
           max_det: int = 300, index: int = 0, agnostic: bool = False) -> Detections:
    """The detections of image ``index`` of a batch: float ``outputs`` (name → array, dequantized) decoded as
    ``head`` says, scores above ``conf``, class-aware NMS at ``iou`` (class-agnostic with ``agnostic``), at most
    ``max_det``, best first; boxes in input pixels."""
    if head.kind == "nms":
        found = _ended_in_nms(outputs, head, index, conf)
        return found.take(np.arange(min(max_det, len(found))))
    boxes, score, cls, points = _scored(outputs, head, index, conf)
    kept = nms(boxes, score, None if agnostic else cls, iou=iou, max_det=max_det)
    return Detections(boxes[kept], score[kept].astype(np.float64), cls[kept].astype(np.int64),
                      None if points is None else points[kept])
