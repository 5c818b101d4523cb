"""Evidence beyond an output's shape that it is a YOLO head: a Concat joins it (box and score parts, or levels),
and which YOLO it is when shapes alone cannot tell (YOLOv8 transposed against YOLOX on the same anchor grid); and
against it: other outputs with a row per box."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from onnpu.model.exporter_metadata import class_names

if TYPE_CHECKING:
    import onnx

LAYOUT_OPS = frozenset({"Transpose", "Reshape", "Identity", "Squeeze", "Unsqueeze", "Flatten", "QuantizeLinear",
                        "DequantizeLinear", "Cast"})


def joined(proto: onnx.ModelProto | None, name: str, hops: int = 6) -> bool:
    """Whether ``name`` is a Concat's output, through layout ops only (a YOLO head joins its box and score parts,
    or its levels). True without a graph to ask."""
    if proto is None:
        return True
    made_by = {o: n for n in proto.graph.node for o in n.output}
    for _ in range(hops):
        node = made_by.get(name)
        if node is None or not node.input:
            return False
        if node.op_type in ("Concat", "EPContext"):  # a compiled context: nothing inside to see
            return True
        if node.op_type not in LAYOUT_OPS:
            return False
        name = node.input[0]
    return False


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
