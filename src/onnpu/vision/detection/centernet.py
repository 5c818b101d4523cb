"""CenterNet-style heads ("objects as points"): maps on one grid of stride 2, 4 or 8 — a heatmap ``[N, C, h, w]``
(one channel per class), box sizes ``[N, 2, h, w]`` and centre offsets ``[N, 2, h, w]``, and for face detectors
five landmarks ``[N, 10, h, w]``. A detection is a heatmap peak (a local maximum of its 3x3 neighbourhood above
the threshold); its box comes from the size and offset at that cell. Two conventions are exported:

- CenterFace (a landmarks output, or a size output named ``scale``): sizes are log(height / stride),
  log(width / stride) — height first — and offsets y, x; the centre is (cell + offset + 0.5) x stride. Its five
  landmarks are y, x pairs in units of the box's height and width from the box's top-left corner (clipped to the
  input, as CenterFace's own decoding does).
- CenterNet (``hm``, ``wh``, ``reg``): sizes are width, height in grid cells, offsets x, y; the centre is
  (cell + offset) x stride.

A two-class heatmap is told from them by name (hm / heat), else by a Sigmoid before it, else by output order
(first). The sizes and offsets are told apart by name (scale / wh / size, offset / reg), else by output order (sizes
first, as both export them). A heatmap without a Sigmoid before it in the graph is passed through one here.
Recognised in ``heads.centernet_head``, decoded here."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from onnpu.vision.detection.heads import Head


def _local_maxima(heat: np.ndarray) -> np.ndarray:
    """Whether each cell of ``heat`` [C, h, w] is the largest of its 3x3 neighbourhood (CenterNet's max-pool)."""
    padded = np.pad(heat, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    h, w = heat.shape[1:]
    best = heat.copy()
    for dy in range(3):
        for dx in range(3):
            np.maximum(best, padded[:, dy:dy + h, dx:dx + w], out=best)
    return heat >= best


def decode_centernet(outputs: Mapping[str, np.ndarray], head: Head, index: int, conf: float
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Boxes (xyxy, input pixels), scores, classes and landmarks ([K, 5, 2] input pixels, CenterFace; else None)
    of the heatmap peaks of image ``index``."""
    layout = head.layout
    heat = np.asarray(outputs[layout["heatmap"]][index], np.float32)
    if layout.get("sigmoid") == "here":
        heat = (1 / (1 + np.exp(-np.clip(heat, -60, 60)))).astype(np.float32)
    cls, row, col = np.nonzero((heat > conf) & _local_maxima(heat))
    score = heat[cls, row, col]
    sizes = np.asarray(outputs[layout["sizes"]][index], np.float64)[:, row, col]
    offsets = np.asarray(outputs[layout["offsets"]][index], np.float64)[:, row, col]
    stride = head.strides[0]
    if layout.get("convention") == "centerface":
        h, w = np.exp(np.minimum(sizes, 30)) * stride
        cy, cx = (row + offsets[0] + 0.5) * stride, (col + offsets[1] + 0.5) * stride
    else:
        w, h = sizes * stride
        cx, cy = (col + offsets[0]) * stride, (row + offsets[1]) * stride
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    points = None
    if layout.get("convention") == "centerface" and "landmarks" in layout:
        marks = np.asarray(outputs[layout["landmarks"]][index], np.float64)[:, row, col]  # [10, K]: y, x pairs
        height, width = head.input_size
        left, top = np.clip(cx - w / 2, 0, width), np.clip(cy - h / 2, 0, height)
        points = np.stack([left + marks[1::2] * w, top + marks[0::2] * h], axis=-1).transpose(1, 0, 2)
    return boxes, score, cls.astype(np.int64), points
