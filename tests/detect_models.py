"""Synthetic detectors and scenes for the detection tests, built in code.

The detector finds red and blue squares: its input ``x`` [batch, 3, 64, 64] is cut into 8x8 cells (stride 8, one
box per cell); a Conv averages each cell's red (class 0) and blue (class 1) light and a Sigmoid turns it into a
score; the box of a cell is the cell itself (a constant). Its head is YOLOv8's ``[N, 4+C, boxes]``
(``[N, 6, 64]``), or YOLOv5's ``[N, boxes, 5+C]`` with an objectness column.

A scene is a black 128x96 image with squares of 16x16 at multiples of 16: letterboxed into 64x64 (scale 1/2,
8 rows of padding at the top) each square fills one cell exactly, so the boxes it must find are known by
construction (the labelled set of the tests: the scenes and their boxes, written as COCO annotations)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

SIZE, STRIDE = 64, 8
CELLS = SIZE // STRIDE
SHARPNESS = 12.0
COLOURS = {0: (255, 0, 0), 1: (0, 0, 255)}  # class → RGB


def _cell_boxes() -> np.ndarray:
    """[4, cells]: centre x, y, width, height of every cell, row by row."""
    ys, xs = np.meshgrid(np.arange(CELLS), np.arange(CELLS), indexing="ij")
    cx = (xs.ravel() + 0.5) * STRIDE
    cy = (ys.ravel() + 0.5) * STRIDE
    return np.stack([cx, cy, np.full_like(cx, STRIDE), np.full_like(cy, STRIDE)]).astype(np.float32)


def square_detector(batch: int | str = 1, head: str = "yolov8") -> onnx.ModelProto:
    w = np.zeros((2, 3, STRIDE, STRIDE), np.float32)
    w[0, 0] = SHARPNESS / STRIDE**2  # red
    w[1, 2] = SHARPNESS / STRIDE**2  # blue
    w[:, 1] = -SHARPNESS / STRIDE**2  # green counts against both (white is no class)
    bias = np.full(2, -SHARPNESS / 2, np.float32)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(bias, "b"),
             numpy_helper.from_array(np.array([0, 2, CELLS * CELLS], np.int64), "flat"),
             numpy_helper.from_array(_cell_boxes()[None], "cells")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["logits"], strides=[STRIDE, STRIDE], name="cell_conv"),
             helper.make_node("Sigmoid", ["logits"], ["prob"], name="score"),
             helper.make_node("Reshape", ["prob", "flat"], ["scores"], name="flatten")]
    n = batch
    if head == "yolov8":
        nodes.append(helper.make_node("Expand", ["cells", "shape"], ["boxes"], name="boxes"))
        nodes.append(helper.make_node("Concat", ["boxes", "scores"], ["output0"], axis=1, name="head"))
        out_shape = [n, 6, CELLS * CELLS]
    else:  # yolov5: rows of box, objectness (the best class score), class scores
        nodes += [helper.make_node("Expand", ["cells", "shape"], ["boxes"], name="boxes"),
                  helper.make_node("ReduceMax", ["scores"], ["objectness"], axes=[1], keepdims=1, name="objectness"),
                  helper.make_node("Max", ["objectness", "tiny"], ["objectness_safe"], name="safe"),
                  helper.make_node("Div", ["scores", "objectness_safe"], ["conditional"], name="conditional"),
                  helper.make_node("Concat", ["boxes", "objectness", "conditional"], ["rows"], axis=1, name="cat"),
                  helper.make_node("Transpose", ["rows"], ["output0"], perm=[0, 2, 1], name="head")]
        inits.append(numpy_helper.from_array(np.array(1e-6, np.float32), "tiny"))
        out_shape = [n, CELLS * CELLS, 7]
    if isinstance(batch, int):  # shapes as constants: nothing for the NPU to compute at run time
        inits.append(numpy_helper.from_array(np.array([batch, 4, CELLS * CELLS], np.int64), "shape"))
    else:
        nodes.insert(0, helper.make_node("Shape", ["x"], ["xshape"], start=0, end=1, name="batch_of_x"))
        nodes.insert(1, helper.make_node("Concat", ["xshape", "tail"], ["shape"], axis=0, name="expand_shape"))
        inits.append(numpy_helper.from_array(np.array([4, CELLS * CELLS], np.int64), "tail"))
    graph = helper.make_graph(nodes, "square_detector",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, 3, SIZE, SIZE])],
                              [helper.make_tensor_value_info("output0", TensorProto.FLOAT, out_shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="onnpu-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, str(path))
    return path


# (image name, [(class, x, y)]) — squares of 16x16 at (x, y), multiples of 16, in a 128x96 image
SCENES: list[tuple[str, list[tuple[int, int, int]]]] = [
    ("000000000001.png", [(0, 16, 16), (1, 80, 48)]),
    ("000000000002.png", [(1, 0, 0), (1, 112, 80), (0, 48, 32)]),
    ("000000000003.png", [(0, 64, 64)]),
    ("000000000004.png", []),
]


def scene(squares: list[tuple[int, int, int]], width: int = 128, height: int = 96) -> Image.Image:
    a = np.zeros((height, width, 3), np.uint8)
    for cls, x, y in squares:
        a[y:y + 16, x:x + 16] = COLOURS[cls]
    return Image.fromarray(a)


def write_scenes(folder: Path) -> tuple[list[Path], Path]:
    """The scenes as PNGs in ``folder`` and their boxes as COCO annotations (``annotations.json``; category ids
    1 and 2 are classes 0 and 1)."""
    images, annotations = [], []
    for k, (name, squares) in enumerate(SCENES, 1):
        path = folder / name
        scene(squares).save(path)
        images.append({"id": k, "file_name": name, "width": 128, "height": 96})
        for cls, x, y in squares:
            annotations.append({"id": len(annotations) + 1, "image_id": k, "category_id": cls + 1,
                                "bbox": [x, y, 16, 16], "area": 256, "iscrowd": 0})
    gt = folder / "annotations.json"
    gt.write_text(json.dumps({"images": images, "annotations": annotations,
                              "categories": [{"id": 1, "name": "red"}, {"id": 2, "name": "blue"}]}))
    return [folder / name for name, _ in SCENES], gt


def greedy_loop(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float,
                max_det: int | None = None) -> list[int]:
    """Greedy class-aware NMS one kept box at a time (numpy against every candidate left): the plain algorithm,
    at sizes a pure-Python reference would take minutes for; the tests' reference and the benchmark's baseline."""
    order = np.argsort(-scores, kind="stable")
    b = boxes[order].astype(np.float64)
    c = classes[order]
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    alive = np.arange(len(order))
    keep: list[int] = []
    while alive.size and (max_det is None or len(keep) < max_det):
        i, rest = alive[0], alive[1:]
        keep.append(int(order[i]))
        w = (np.minimum(b[i, 2], b[rest, 2]) - np.maximum(b[i, 0], b[rest, 0])).clip(0)
        h = (np.minimum(b[i, 3], b[rest, 3]) - np.maximum(b[i, 1], b[rest, 1])).clip(0)
        inter = w * h
        alive = rest[~((inter > iou * (area[i] + area[rest] - inter)) & (c[rest] == c[i]))]
    return keep


def yolov8_frame(objects: int, seed: int = 0, classes: int = 80, size: int = 640) -> np.ndarray:
    """A YOLOv8 output [1, 4+C, 8400] shaped like a real frame's: ``objects`` objects, each seen by the cells
    near its centre on every level (scores falling off with distance, boxes jittered around it), every other
    cell background (class scores from a sigmoid of N(-9, 1.5): a few stray candidates pass 0.25)."""
    rng = np.random.default_rng(seed)
    cells = []
    for stride in (8, 16, 32):
        n = size // stride
        ys, xs = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        cells.append(np.stack([(xs.ravel() + 0.5) * stride, (ys.ravel() + 0.5) * stride,
                               np.full(n * n, stride)], 1))
    grid = np.concatenate(cells).astype(np.float32)  # [8400, 3]: cx, cy, stride
    out = np.zeros((4 + classes, len(grid)), np.float32)
    out[4:] = 1 / (1 + np.exp(-rng.normal(-9, 1.5, (classes, len(grid)))))
    out[0:2] = grid[:, :2].T
    out[2:4] = grid[:, 2] * 4
    for _ in range(objects):
        w, h = rng.uniform(24, size / 2, 2)
        cx, cy = rng.uniform(w / 2, size - w / 2), rng.uniform(h / 2, size - h / 2)
        cls = int(rng.integers(classes))
        d = np.hypot((grid[:, 0] - cx) / w, (grid[:, 1] - cy) / h)
        near = np.flatnonzero(d < 0.25)
        out[4 + cls, near] = np.maximum(out[4 + cls, near], 0.95 - 2.5 * d[near] + rng.normal(0, 0.03, len(near)))
        out[0, near] = cx + rng.normal(0, 2, len(near))
        out[1, near] = cy + rng.normal(0, 2, len(near))
        out[2, near] = w * rng.uniform(0.92, 1.08, len(near))
        out[3, near] = h * rng.uniform(0.92, 1.08, len(near))
    return out[None]
