"""Class-aware non-maximum suppression in numpy (no torch): greedy, exact, in score order; boxes of different
classes never suppress each other.

The candidates are taken in score order, a block at a time. A block is first checked against the boxes already
kept (one [block, kept] overlap matrix), then resolved within itself: the greedy answer is the fixed point of
"a box is kept when no kept box before it overlaps it too much", reached from "all kept" by repeating that rule
on the block's [block, block] overlap matrix — after n rounds the first n boxes are right, and real detections
settle in a few rounds (a long chain falls back to the one-by-one loop). Work stops once ``max_det`` boxes are
kept, so the cost follows the boxes kept, not the candidates."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

BLOCK = 64
MAX_BLOCK = 4096
GROW = 4  # the look-ahead multiplies by this when most of a block was already suppressed
ROUNDS = 32  # fixed-point rounds before a block is resolved one box at a time


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


def _overlaps(coords: tuple[np.ndarray, ...], area: np.ndarray, classes: np.ndarray, rows: np.ndarray,
              cols: np.ndarray, iou: float) -> np.ndarray:
    """[rows, cols]: True where the two boxes are of one class and overlap by more than ``iou`` (compared
    without a division: a zero union never suppresses)."""
    x1, y1, x2, y2 = coords
    w = np.minimum.outer(x2[rows], x2[cols])
    w -= np.maximum.outer(x1[rows], x1[cols])
    h = np.minimum.outer(y2[rows], y2[cols])
    h -= np.maximum.outer(y1[rows], y1[cols])
    np.maximum(w, 0, out=w)
    np.maximum(h, 0, out=h)
    w *= h  # the intersection
    union = np.add.outer(area[rows], area[cols])
    union -= w
    over: np.ndarray = w > iou * union
    over &= np.equal.outer(classes[rows], classes[cols])
    return over


@lru_cache(maxsize=16)
def _later(n: int) -> np.ndarray:
    """[n, n]: True above the diagonal (box i before box j)."""
    return np.triu(np.ones((n, n), bool), 1)


def _resolve(over: np.ndarray) -> np.ndarray:
    """The greedy answer within a block of candidates in score order: ``over`` [B, B] (only i < j counts)."""
    over &= _later(len(over))
    keep = np.ones(len(over), bool)
    for _ in range(ROUNDS):
        new: np.ndarray = np.logical_not((over & keep[:, None]).any(axis=0))
        if np.array_equal(new, keep):
            return keep
        keep = new
    keep = np.ones(len(over), bool)
    for i in range(len(keep)):
        if keep[i]:
            keep &= ~over[i]
    return keep


def nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray | None = None, iou: float = 0.45,
        max_det: int = 300) -> np.ndarray:
    """Indices of the boxes kept, best first: a box is dropped when a better-scoring kept box of the same
    class overlaps it by more than ``iou``. ``boxes`` [K, 4] xyxy, ``scores`` [K], ``classes`` [K] or None
    (class-agnostic)."""
    k = len(scores)
    if k == 0 or max_det <= 0:
        return np.zeros(0, np.int64)
    order = np.argsort(-np.asarray(scores), kind="stable")
    sorted_boxes = np.asarray(boxes, np.float64).reshape(-1, 4)[order]
    coords = tuple(np.ascontiguousarray(sorted_boxes[:, i]) for i in range(4))
    cls = (np.zeros(k, np.int64) if classes is None else np.asarray(classes).reshape(-1)[order])
    area = np.maximum(coords[2] - coords[0], 0) * np.maximum(coords[3] - coords[1], 0)
    kept = np.zeros(0, np.int64)
    start, size = 0, BLOCK
    while start < k and len(kept) < max_det:
        block = np.arange(start, min(start + size, k))
        start = block[-1] + 1
        if kept.size:
            block = block[~_overlaps(coords, area, cls, kept, block, iou).any(axis=0)]
        if block.size:
            keep = _resolve(_overlaps(coords, area, cls, block, block, iou))
            kept = np.concatenate([kept, block[keep]])
        if block.size < size // 4:
            size = min(size * GROW, MAX_BLOCK)  # most candidates already suppressed: look further ahead at once
    return order[kept[:max_det]]
