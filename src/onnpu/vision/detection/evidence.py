"""Evidence beyond an output's shape that it is a YOLO head: a Concat joins it (box and score parts, or levels),
and which YOLO it is when shapes alone cannot tell (YOLOv8 transposed against YOLOX on the same anchor grid)."""

from __future__ import annotations

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
