"""Evidence beyond an output's shape that it is a YOLO head: a Concat joins it (box and score parts, or levels),
and which YOLO it is when shapes alone cannot tell (YOLOv8 transposed against YOLOX on the same anchor grid); and
against it: other outputs with a row per box. What outputs that match no head look like (``why_no_head``), and the
classes an exporter names (``named_class_count``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from onnpu.model.exporter_metadata import class_names

if TYPE_CHECKING:
    import onnx

LAYOUT_OPS = frozenset({"Transpose", "Reshape", "Identity", "Squeeze", "Unsqueeze", "Flatten", "QuantizeLinear",
                        "DequantizeLinear", "Cast"})


def _maker(proto: onnx.ModelProto, name: str, wanted: frozenset[str], hops: int,
           through: frozenset[str] | None) -> onnx.NodeProto | None:
    """The node of a ``wanted`` op that makes ``name``, following first inputs back at most ``hops`` nodes through
    ``through`` ops (None: through any op), or None."""
    made_by = {o: n for n in proto.graph.node for o in n.output}
    for _ in range(hops):
        node = made_by.get(name)
        if node is None:
            return None
        if node.op_type in wanted:
            return node
        if not node.input or (through is not None and node.op_type not in through):
            return None
        name = node.input[0]
    return None


def _joining(proto: onnx.ModelProto, name: str, hops: int = 6) -> onnx.NodeProto | None:
    """The Concat (or compiled EPContext) that makes ``name``, through layout ops only, or None."""
    return _maker(proto, name, frozenset({"Concat", "EPContext"}), hops, LAYOUT_OPS)


def computed_by(proto: onnx.ModelProto | None, name: str, op: str = "Sigmoid", hops: int = 6) -> bool:
    """Whether an ``op`` node (a Sigmoid, a Softmax) computes ``name`` through at most ``hops`` other nodes
    (Transpose, Reshape, a Q/DQ pair, …)."""
    return proto is not None and _maker(proto, name, frozenset({op}), hops, None) is not None


def joined(proto: onnx.ModelProto | None, name: str, hops: int = 6) -> bool:
    """Whether ``name`` is a Concat's output, through layout ops only (a YOLO head joins its box and score parts,
    or its levels); a compiled context has nothing inside to see, so it counts. True without a graph to ask."""
    return proto is None or _joining(proto, name, hops) is not None


def _ones(proto: onnx.ModelProto, name: str) -> bool:
    """Whether ``name`` is a constant of ones one column wide: an initializer, a Constant, a ConstantOfShape of 1,
    or one of them expanded, cast or quantized (a quantized copy's ones: within a step of their grid)."""
    from onnx import helper, numpy_helper

    made_by = {o: n for n in proto.graph.node for o in n.output}
    inits = {t.name: t for t in proto.graph.initializer}
    for _ in range(4):
        if name in inits:
            value = numpy_helper.to_array(inits[name])
            return value.ndim >= 1 and value.shape[-1] == 1 and value.size > 0 and bool((value == 1).all())
        node = made_by.get(name)
        if node is None:
            return False
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Constant" and "value" in attrs:
            value = numpy_helper.to_array(attrs["value"])
            return value.ndim >= 1 and value.shape[-1] == 1 and value.size > 0 and bool((value == 1).all())
        if node.op_type == "ConstantOfShape":
            return "value" in attrs and bool((numpy_helper.to_array(attrs["value"]) == 1).all())
        if node.op_type == "DequantizeLinear" and node.input[0] in inits and len(node.input) > 1 \
                and node.input[1] in inits:  # the quantized copy: ones within a step of the grid they share
            scale = numpy_helper.to_array(inits[node.input[1]]).astype(np.float64)
            zero = numpy_helper.to_array(inits[node.input[2]]).astype(np.float64) \
                if len(node.input) > 2 and node.input[2] in inits else 0.0
            value = (numpy_helper.to_array(inits[node.input[0]]).astype(np.float64) - zero) * scale
            return value.ndim >= 1 and value.shape[-1] == 1 and value.size > 0 and \
                bool((np.abs(value - 1) <= np.max(scale)).all())
        if node.op_type not in ("Expand", "Tile", "Cast", "Identity", "QuantizeLinear", "DequantizeLinear") \
                or not node.input:
            return False
        name = node.input[0]
    return False


def constant_objectness(proto: onnx.ModelProto | None, name: str) -> bool:
    """YOLOv6's export: ``[N, boxes, 4 + 1 + C]`` joined by a Concat of the decoded boxes, a column of ones where
    YOLOv5 has its objectness (YOLOv6 has none), and the class scores — YOLOv5's layout, which the anchor grid's
    box count alone would read as YOLOX (raw, decoded again) or, with YOLOv6 v3's DFL Softmax, as a transposed
    YOLOv8 (the ones read as a class)."""
    concat = _joining(proto, name) if proto is not None else None
    if proto is None or concat is None or concat.op_type != "Concat" or len(concat.input) < 3:
        return False
    return any(_ones(proto, part) for part in concat.input[1:-1])


def transposed_yolov8(proto: onnx.ModelProto | None, ops: set[str], columns: int) -> str | None:
    """What says ``[N, boxes, columns]`` with one box per grid cell is a YOLOv8/v11 head transposed (4+C columns)
    rather than YOLOX's (5+C, with objectness), or None: the class names the exporter wrote number
    ``columns - 4``, or — without names — the graph decodes box distributions with a Softmax (YOLOv8's DFL) and
    has no Exp (YOLOX)."""
    if proto is None:
        return None
    names = class_names(proto)
    if names:
        return "its class names number 4 fewer than the columns" if len(names) == columns - 4 else None
    if "Softmax" in ops and "Exp" not in ops:
        return "box distributions decoded by a Softmax in the graph, as YOLOv8 does"
    return None


def rows_beside(name: str, boxes_last: bool, shapes: Mapping[str, Sequence[int]]) -> str | None:
    """A head read from one output must be the only output with a row per candidate box: other outputs with as many
    rows (class scores beside box offsets, landmarks) belong to a head whose boxes are decoded against anchors or
    priors outside the graph (RetinaFace, SSD, BlazeFace), which reading the one output as YOLO would get wrong.
    Why not, or None. ``boxes_last``: the boxes are ``name``'s last dim ([N, 4+C, boxes])."""
    shape = shapes[name] if len(shapes[name]) == 3 else (1, *shapes[name])
    boxes = shape[2] if boxes_last else shape[1]
    # outputs with as many rows that cannot be heads themselves (offsets [N, 4], scores [N, 1 or 2]); a second
    # output that reads as a head too (an auxiliary head) is left to the choice of the largest
    batched = {n: s if len(s) == 3 else (1, *s) for n, s in shapes.items() if n != name and len(s) in (2, 3)}
    siblings = [n for n, s in batched.items() if boxes in s[1:] and math.prod(s[1:]) // boxes < 5]
    if not siblings:
        return None
    return (f"{', '.join(siblings)} also {'has' if len(siblings) == 1 else 'have'} {boxes} rows: boxes decoded against "
            "anchors or priors outside the graph (RetinaFace / SSD / BlazeFace style), which onnpu does not decode")


def why_no_head(shapes: Mapping[str, Sequence[int]], size: tuple[int, int]) -> str:
    """What outputs that match no head look like, where it can be told: a per-pixel map (text or segmentation
    probabilities), maps on one grid that are not CenterNet's (a heatmap beside 2-channel sizes and offsets), or rows
    per candidate with boxes left for decoding against priors outside the graph; "" otherwise."""
    maps = {n: s for n, s in shapes.items() if len(s) == 4}
    if maps and len(maps) == len(shapes):
        grids = {s[2:] for s in maps.values()}
        if len(maps) == 1 and next(iter(maps.values()))[1] <= 2 and \
                any(g == size or g == (size[0] // 4, size[1] // 4) for g in grids):
            return ("one map of 1-2 channels over the image: per-pixel probabilities (text detection such as DBNet, "
                    "segmentation), not boxes — onnpu detect decodes box heads; `onnpu run` gives the map")
        if len(grids) == 1 and len(maps) >= 3:
            channels = ", ".join(f"{n} {s[1]}" for n, s in maps.items())
            return (f"maps on one grid ({channels} channels) but not CenterNet's heatmap with 2-channel sizes and "
                    "offsets (variants with corner offsets, as table-cell detectors have, are not decoded)")
    rows = {n: s for n, s in shapes.items() if len(s) == 3}
    if len(rows) >= 2 and len({s[1] for s in rows.values()}) == 1 and any(s[2] in (4, 12, 16) for s in rows.values()):
        return (f"{len(rows)} outputs of {next(iter(rows.values()))[1]} rows each (offsets and scores per anchor): "
                "boxes decoded against anchors or priors outside the graph (SSD / BlazeFace style), which onnpu does "
                "not decode")
    return ""


def named_class_count(kind: str, columns: int, proto: onnx.ModelProto | None) -> int | None:
    """How many classes the exporter names, where a ``yolov8`` head has more ``columns`` after the box than that
    (Ultralytics -seg and -pose exports: mask coefficients or keypoints follow the class scores); else None."""
    names = class_names(proto) if proto is not None else None
    if kind != "yolov8" or not names or len(names) >= columns:
        return None
    return len(names)
