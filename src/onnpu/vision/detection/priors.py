"""RetinaFace's head, decoded against its priors: per level of strides 8, 16, 32, each cell of the input's grid
(row by row, ``ceil(size / stride)`` cells a side) holds two square priors centred on the cell, of 16 and 32, 64 and
128, 256 and 512 pixels. A box is (offsets ``l`` from the model, prior centre ``c`` and size ``s``):
centre = c + l[:2] · 0.1 · s, size = s · exp(l[2:] · 0.2) — the variances 0.1 and 0.2 of its training code; each
landmark (x, y) = c + m · 0.1 · s likewise, from the optional landmarks output. The score is the face probability
(column 1; column 0 is the background). Recognised in ``heads.retinaface_head``."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import numpy as np

from onnpu.errors import InputDataError
from onnpu.vision.detection.heads import Head

SIZES = ((16, 32), (64, 128), (256, 512))  # prior sides in pixels, per level of strides 8, 16, 32
CENTRE_VARIANCE, SIZE_VARIANCE = 0.1, 0.2


@lru_cache(maxsize=8)
def priors(height: int, width: int, strides: tuple[int, ...]) -> np.ndarray:
    """[P, 4]: centre x, centre y, width, height of every prior, in input pixels, in the head's row order."""
    levels = []
    for stride, sides in zip(strides, SIZES, strict=True):
        ys, xs = np.meshgrid(np.arange(-(-height // stride)), np.arange(-(-width // stride)), indexing="ij")
        centres = np.stack([(xs.ravel() + 0.5) * stride, (ys.ravel() + 0.5) * stride], 1)
        for_cell = np.repeat(centres, len(sides), axis=0)
        side = np.tile(np.asarray(sides, np.float64), len(centres))[:, None]
        levels.append(np.concatenate([for_cell, side, side], 1))
    return np.concatenate(levels)


def decode_retinaface(outputs: Mapping[str, np.ndarray], head: Head, index: int, conf: float
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Boxes (xyxy, input pixels), scores, classes (all 0: face) and landmarks ([K, 5, 2], input pixels; None
    without a landmarks output) of the priors whose face probability passes ``conf``."""
    offsets = outputs[head.layout["boxes"]]
    probabilities = outputs[head.layout["scores"]]
    offsets = offsets[index] if offsets.ndim == 3 else offsets
    probabilities = probabilities[index] if probabilities.ndim == 3 else probabilities
    table = priors(*head.input_size, head.strides)
    if len(table) != len(offsets):
        raise InputDataError(f"{head.layout['boxes']}: {len(offsets)} rows, but the priors of a "
                             f"{head.input_size[1]}x{head.input_size[0]} input are {len(table)}",
                             hint="check the input size (--size) or name another --head")
    score = probabilities[:, 1]
    keep = np.flatnonzero(score > conf)
    p, o = table[keep], offsets[keep].astype(np.float64)
    centre = p[:, :2] + o[:, :2] * CENTRE_VARIANCE * p[:, 2:]
    half = p[:, 2:] * np.exp(np.minimum(o[:, 2:] * SIZE_VARIANCE, 30)) / 2
    boxes = np.concatenate([centre - half, centre + half], 1)
    points = None
    if "landmarks" in head.layout:
        marks = outputs[head.layout["landmarks"]]
        marks = (marks[index] if marks.ndim == 3 else marks)[keep].astype(np.float64)
        marks = marks.reshape(len(keep), marks.shape[-1] // 2, 2)
        points = p[:, None, :2] + marks * CENTRE_VARIANCE * p[:, None, 2:]
    return boxes, score[keep], np.zeros(len(keep), np.int64), points
