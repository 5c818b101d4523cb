"""Class-aware non-maximum suppression in numpy (no torch): greedy, exact, in score order. Boxes of different
classes never suppress each other (each class is moved to its own region of the plane, the usual trick), so one
greedy pass serves all classes."""

from __future__ import annotations

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` [N, 4] with every box in ``b`` [M, 4] (xyxy) → [N, M]."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray | None = None, iou: float = 0.45,
        max_det: int = 300) -> np.ndarray:
    """Indices of the boxes kept, best first: a box is dropped when a better-scoring kept box of the same
    class overlaps it by more than ``iou``. ``boxes`` [K, 4] xyxy, ``scores`` [K], ``classes`` [K] or None
    (class-agnostic)."""
    k = len(scores)
    if k == 0:
        return np.zeros(0, np.int64)
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    if classes is not None:
        span = float(np.abs(boxes).max()) * 2 + 1
        boxes = boxes + (np.asarray(classes, np.float32) * span)[:, None]
    order = np.argsort(-np.asarray(scores), kind="stable")
    x1, y1, x2, y2 = (np.ascontiguousarray(boxes[order, i]) for i in range(4))
    area = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    alive = np.arange(k)
    keep: list[int] = []
    while alive.size and len(keep) < max_det:
        i = alive[0]
        keep.append(i)
        rest = alive[1:]
        if not rest.size:
            break
        w = (np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest])).clip(0)
        h = (np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest])).clip(0)
        inter = w * h
        union = area[i] + area[rest] - inter
        alive = rest[inter <= iou * union]  # IoU ≤ iou, without a division (and a zero union keeps the box)
    return order[np.asarray(keep, np.int64)]
