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
