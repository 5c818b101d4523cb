"""Which detection head a model ends in, recognised once per model from its output shapes (and, where shapes
cannot tell, its graph), or named with ``--head``:

- ``yolov8`` — ``[N, 4+C, boxes]`` (YOLOv8/v9/v11): centre x, y, width, height in input pixels, then C class
  scores, no objectness. Also ``[N, boxes, 4+C]`` when named, or with one box per grid cell when the exporter's
  class names number 4 fewer than the columns (or, without names, a Softmax decodes box distributions and there
  is no ``Exp``), and DETR-style heads (RT-DETR) ``[N, queries,
  4+C]`` when no anchor grid of the input has that many boxes and the graph samples (GridSample) or picks
  queries (TopK); boxes relative to the input are scaled.
- ``yolov5`` — ``[N, boxes, 5+C]`` (YOLOv5/v7, anchors decoded in the graph): box, objectness, C class scores;
  a box's score is objectness x class score.
- ``yolox`` — ``[N, boxes, 5+C]`` with one box per grid cell of strides 8, 16, 32 and no ``Exp`` in the graph:
  raw offsets, decoded here with the grids and strides (centre = (offset + cell) x stride, size = exp(raw) x
  stride); with ``Exp`` in the graph (decoded at export) it reads like ``yolov5``.
- ``boxes-scores`` — separate outputs: boxes ``[N, boxes, 4]`` (xyxy, input pixels) and scores ``[N, boxes, C]``
  or ``[N, C, boxes]`` (PicoDet / NanoDet / many anchor-free heads exported with their decode in the graph).
- ``dfl`` — per level of strides 8, 16, 32 (, 64): scores ``[N, cells, C]`` and box distributions
  ``[N, cells, 4·(R+1)]`` (PP-PicoDet / GFL heads exported without their decode; ``onnpu.vision.detection.dfl``).
- ``centernet`` — maps on one grid: heatmap ``[N, C, h, w]``, sizes and offsets ``[N, 2, h, w]`` (and landmarks
  ``[N, 10, h, w]``): CenterNet / CenterFace, objects as heatmap peaks (``onnpu.vision.detection.centernet``).
- ``retinaface`` — box offsets ``[N, priors, 4]``, class probabilities ``[N, priors, 2]`` (background, face) and
  optionally landmarks ``[N, priors, 10]``, two priors per cell of strides 8, 16, 32 and no ``Exp`` in the graph
  (RetinaFace as exported from its PyTorch training code): decoded against the priors here
  (``onnpu.vision.detection.priors``).
- ``nms`` — the model ends in NMS (``NonMaxSuppression`` or ``TopK`` in the graph): one output ``[N, K, 6]``
  (x1, y1, x2, y2, score, class; ``[K, 7]``: batch index, box, class, score), or outputs boxes
  ``[N, K, 4]``, scores ``[N, K]``, classes ``[N, K]`` (and a count ``[N, 1]``), or mmdeploy's dets ``[N, K, 5]``
  (x1, y1, x2, y2, score) and labels ``[N, K]``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from onnpu.errors import InputDataError
from onnpu.vision.detection.evidence import (
    computed_by,
    constant_objectness,
    joined,
    named_class_count,
    rows_beside,
    transposed_yolov8,
    why_no_head,
)

if TYPE_CHECKING:
    import onnx

HEADS: tuple[str, ...] = ("yolov8", "yolov5", "yolox", "boxes-scores", "dfl", "centernet", "retinaface", "nms")
STRIDE_SETS: tuple[tuple[int, ...], ...] = ((8, 16, 32), (8, 16, 32, 64))
MAX_QUERIES = 1000  # a DETR-style head answers this many queries at most (RT-DETR: 300)
PADDLE_NMS = "multiclass_nms"  # PaddleDetection's NMS output: rows of class, score, x1, y1, x2, y2
TF_BOXES = "detection_boxes"  # the TF Object Detection API's output names (detection_scores, detection_classes, …)
DETR_OPS = frozenset({"GridSample", "TopK"})  # RT-DETR: deformable attention samples, queries picked by TopK
Shape = tuple[int, ...]


@dataclass(frozen=True)
class Head:
    """A recognised head: its kind, the outputs it reads (in the order the decoder reads them), the number of
    classes, and for ``yolox`` the strides and whether the graph already decodes the boxes."""

    kind: str
    outputs: tuple[str, ...]
    num_classes: int
    input_size: tuple[int, int]  # (height, width) of the model input, in pixels
    strides: tuple[int, ...] = (8, 16, 32)
    decoded: bool = True
    transposed: bool = False  # yolov8 given as [N, boxes, 4+C]
    reason: str = ""
    layout: dict[str, str] = field(default_factory=dict)  # boxes-scores / nms: role → output name
    background: bool = False  # boxes-scores: column 0 of the scores is the background (a softmax over C + 1)
    ids: str = "index"  # "coco91": COCO's category ids, 0 the background (TF Object Detection API); "face": one class

    def describe(self) -> str:
        return f"head {self.kind} ({self.num_classes} classes): {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "outputs": list(self.outputs), "num_classes": self.num_classes,
                "input_size": list(self.input_size), "strides": list(self.strides), "decoded": self.decoded,
                "background": self.background, "ids": self.ids, "reason": self.reason}


def grid_cells(height: int, width: int, strides: Sequence[int]) -> int:
    return sum(math.ceil(height / s) * math.ceil(width / s) for s in strides)


def _ops(proto: onnx.ModelProto | None) -> set[str]:
    return {n.op_type for n in proto.graph.node} if proto is not None else set()


def _shapes_text(shapes: Mapping[str, Shape]) -> str:
    return ", ".join(f"{name} {list(shape)}" for name, shape in shapes.items())


def no_head(shapes: Mapping[str, Shape], why: str = "") -> InputDataError:
    return InputDataError(f"the model's outputs ({_shapes_text(shapes)}) match no detection head onnpu knows"
                          + (f": {why}" if why else ""),
                          hint="name the layout with --head " + "|".join(HEADS) + " (see README: Detection heads)")


def _strides_for(boxes: int, size: tuple[int, int], per_cell: int) -> tuple[int, ...] | None:
    for strides in STRIDE_SETS:
        if boxes == per_cell * grid_cells(*size, strides):
            return strides
    return None


def _single(name: str, shape: Shape, size: tuple[int, int], ops: set[str], kind: str | None,
            proto: onnx.ModelProto | None = None) -> Head | None:
    """A head in one 3-D output, or None. Unnamed, a YOLO layout needs evidence beyond its shape: as many boxes as
    the anchor grid of the input has, or an output joined by a Concat (a sequence of class scores, such as an OCR
    recogniser's [N, time steps, characters] from a Softmax, is neither)."""
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3:
        return None
    _, a, b = shape
    evidence = kind is not None or joined(proto, name) or any(
        _strides_for(n, size, per) is not None for n in (a, b) for per in (1, 3))
    if kind in (None, "nms") and b in (6, 7) and _strides_for(a, size, 1) is None and \
            _strides_for(a, size, 3) is None and (kind == "nms" or ops & {"NonMaxSuppression", "TopK"}):
        if PADDLE_NMS in name.lower() and b == 6:  # PaddleDetection's multiclass_nms: class and score first
            return Head("nms", (name,), 0, size, layout={"rows": name, "order": "class-score-xyxy"},
                        reason=f"{name} {list(shape)}: rows of class, score, x1, y1, x2, y2 (PaddleDetection's "
                               "multiclass_nms in the graph)")
        return Head("nms", (name,), 0, size, reason=f"{name} {list(shape)}: rows of x1, y1, x2, y2, score, class"
                    + " (NMS in the graph)", layout={"rows": name})
    if kind in (None, "yolov8") and 5 <= a < b and evidence:
        return Head("yolov8", (name,), a - 4, size, reason=f"{name} {list(shape)} = [N, 4+C, boxes], C = {a - 4}")
    if kind == "yolov8" and a > b >= 5:
        return Head("yolov8", (name,), b - 4, size, transposed=True,
                    reason=f"{name} {list(shape)} = [N, boxes, 4+C], C = {b - 4} (named)")
    if a <= b or b < 5:
        return None
    one_per_cell = _strides_for(a, size, 1)
    if kind is None and constant_objectness(proto, name):
        return Head("yolov5", (name,), max(1, b - 5), size, reason=f"{name} {list(shape)} = [N, boxes, 5+C], C = "
                    f"{b - 5}: YOLOv6's export (boxes decoded in the graph, a constant column of ones as objectness)")
    said = transposed_yolov8(proto, ops, b) if kind is None and one_per_cell is not None else None
    if said:
        return Head("yolov8", (name,), b - 4, size, transposed=True,
                    reason=f"{name} {list(shape)} = [N, boxes, 4+C], C = {b - 4}: a YOLOv8/v11 head transposed "
                           f"(one box per cell of strides {', '.join(map(str, one_per_cell or ()))}; {said})")
    if kind in (None, "yolox") and one_per_cell is not None:
        decoded = "Exp" in ops
        return Head("yolox", (name,), max(1, b - 5), size, strides=one_per_cell, decoded=decoded,
                    reason=f"{name} {list(shape)} = [N, boxes, 5+C], one box per cell of strides "
                           f"{', '.join(map(str, one_per_cell))}, C = {b - 5}; "
                           + ("decoded in the graph (Exp)" if decoded else "grids and strides decoded here"))
    if kind == "yolox":
        return Head("yolox", (name,), max(1, b - 5), size, decoded=False,
                    reason=f"{name} {list(shape)} = [N, boxes, 5+C], C = {b - 5} (named)")
    if kind is None and a <= MAX_QUERIES and _strides_for(a, size, 3) is None and ops & DETR_OPS:
        return Head("yolov8", (name,), b - 4, size, transposed=True,
                    reason=f"{name} {list(shape)} = [N, queries, 4+C], C = {b - 4}: a DETR-style head (no anchor "
                           f"grid of the input has this many boxes; {', '.join(sorted(ops & DETR_OPS))} in the graph)")
    if kind in (None, "yolov5") and evidence:
        return Head("yolov5", (name,), max(1, b - 5), size, reason=f"{name} {list(shape)} = [N, boxes, 5+C] with "
                    f"objectness, C = {b - 5}")
    return None


def _separate(shapes: Mapping[str, Shape], size: tuple[int, int], kind: str | None, ops: set[str]) -> Head | None:
    """Heads in several outputs: boxes + scores (+ classes, count); mmdeploy's dets (boxes and score) + labels."""
    squeezed = {n: (s if len(s) != 2 else (1, *s)) for n, s in shapes.items()}
    dets = [n for n, s in squeezed.items() if len(s) == 3 and s[2] == 5]
    labels = [n for n, s in shapes.items() if len(dets) == 1 and n != dets[0] and len(s) == len(shapes[dets[0]]) - 1
              and s[-1] == squeezed[dets[0]][1]]  # [N, K] beside [N, K, 5], [K] beside [K, 5]
    if kind in (None, "nms") and len(labels) == 1 and (kind == "nms" or ops & {"NonMaxSuppression", "TopK"}):
        return Head("nms", (dets[0], labels[0]), 0, size, layout={"rows": dets[0], "classes": labels[0]},
                    reason=f"{dets[0]} {list(shapes[dets[0]])}: rows of x1, y1, x2, y2, score, classes {labels[0]} "
                           f"{list(shapes[labels[0]])} (NMS in the graph, mmdeploy's layout; mmdet models normalise "
                           "their input outside the graph: usually --scaling imagenet)")
    boxes = [n for n, s in squeezed.items() if len(s) == 3 and s[2] == 4]
    if len(boxes) > 1:  # TF2 Object Detection API exports add raw_detection_boxes (before NMS) beside detection_boxes
        boxes = [n for n in boxes if TF_BOXES in n.lower() and "raw" not in n.lower()] or boxes
    if len(boxes) != 1:
        return None
    box = boxes[0]
    k = squeezed[box][1]
    rest = {n: s for n, s in shapes.items() if n != box}
    per_box = [n for n, s in rest.items() if len(s) == 2 and s[-1] == k]
    if kind in (None, "nms") and per_box:
        floats = [n for n in per_box if any(w in n.lower() for w in ("score", "conf", "prob"))] or per_box[:1]
        score = floats[0]
        classes = next((n for n in per_box if n != score and "class" in n.lower()),
                       next((n for n in per_box if n != score), None))
        layout = {"boxes": box, "scores": score, **({"classes": classes} if classes else {})}
        tf_api = TF_BOXES in box.lower()  # TF Object Detection API: [ymin, xmin, ymax, xmax] of the input, 0..1
        count = next((n for n, s in rest.items() if n not in per_box and len(s) == 1 and
                      any(w in n.lower() for w in ("num", "count"))), None)
        if tf_api:
            layout["order"] = "yxyx"
        if count is not None:
            layout["count"] = count
        return Head("nms", tuple(layout[r] for r in ("boxes", "scores", "classes", "count") if r in layout), 0,
                    size, layout=layout, ids="coco91" if tf_api else "index",
                    reason=f"boxes {box} {list(shapes[box])}, scores {score}"
                           + (f", classes {classes}" if classes else "") + (f", count {count}" if count else "")
                           + ": NMS done in the graph"
                           + ("; TF Object Detection API names: boxes as ymin, xmin, ymax, xmax relative to the "
                              "input, class ids COCO's (1-based)" if tf_api else ""))
    matrices = [n for n, s in rest.items() if len(s) == 3 and k in (s[1], s[2]) and (s[1], s[2]) != (k, 4)]
    if kind in (None, "boxes-scores") and len(matrices) == 1:
        score = matrices[0]
        s = shapes[score]
        transposed = s[1] != k
        c = s[1] if transposed else s[2]
        return Head("boxes-scores", (box, score), c, size, transposed=transposed,
                    layout={"boxes": box, "scores": score},
                    reason=f"boxes {box} {list(shapes[box])} (xyxy), scores {score} {list(s)}, C = {c}")
    return None


ROLE_SCORES, ROLE_BOXES = "scores", "boxes"


def _level_cells(height: int, width: int, stride: int) -> int:
    return -(-height // stride) * -(-width // stride)


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
            here = [n for n, s in flat.items() if s[1] == _level_cells(*size, stride)]
            if len(here) != 2 or flat[here[0]][2] == flat[here[1]][2]:
                break
            a, b = here
            da, db = flat[a][2], flat[b][2]
            box_like = [n for n, d in ((a, da), (b, db)) if d % 4 == 0 and d // 4 >= 2]
            if len(box_like) == 2:  # both could be distributions (80 classes, 32 bins): the scores end in a Sigmoid
                box_like = [n for n in (a, b) if not computed_by(proto, n)]
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


# --- CenterNet-style heads (decoded in onnpu.vision.detection.centernet) ------------------------------------

CENTER_STRIDES = (4, 2, 8)
LANDMARKS = 10
HEAT_WORDS = ("hm", "heat")
SIZE_WORDS = ("scale", "wh", "size")
OFFSET_WORDS = ("offset", "reg", "off")


def _stride(grid: tuple[int, int], size: tuple[int, int]) -> int | None:
    for s in CENTER_STRIDES:
        if grid == (-(-size[0] // s), -(-size[1] // s)):
            return s
    return None


def _named(names: list[str], words: tuple[str, ...]) -> str | None:
    hits = [n for n in names if any(w in n.lower() for w in words)]
    return hits[0] if len(hits) == 1 else None


def centernet_head(shapes: Mapping[str, Shape], size: tuple[int, int], proto: onnx.ModelProto | None,
                   kind: str | None) -> Head | None:
    """A CenterNet-style head among ``shapes`` (every output a map on one grid of the input), or None."""
    if kind not in (None, "centernet"):
        return None
    maps = {n: s for n, s in shapes.items() if len(s) == 4}
    if len(maps) != len(shapes) or len(maps) < 3 or len({s[2:] for s in maps.values()}) != 1:
        return None
    grid = next(iter(maps.values()))[2:]
    stride = _stride((grid[0], grid[1]), size)
    pairs = [n for n, s in maps.items() if s[1] == 2]
    marks = [n for n, s in maps.items() if s[1] == LANDMARKS]
    heat = [n for n, s in maps.items() if s[1] not in (2, LANDMARKS)]
    if not heat and len(pairs) == 3:  # two classes: the heatmap by name, else by its Sigmoid, else the first
        heat = [_named(pairs, HEAT_WORDS) or next((n for n in pairs if computed_by(proto, n)), pairs[0])]
        pairs.remove(heat[0])
    if stride is None or len(pairs) != 2 or len(heat) != 1 or len(marks) > 1:
        return None
    sizes = _named(pairs, SIZE_WORDS)
    offsets = _named(pairs, OFFSET_WORDS)
    if sizes is None or offsets is None or sizes == offsets:
        sizes, offsets = pairs
    face = bool(marks) or "scale" in sizes.lower()
    layout = {"heatmap": heat[0], "sizes": sizes, "offsets": offsets, **({"landmarks": marks[0]} if marks else {}),
              "convention": "centerface" if face else "centernet",
              "sigmoid": "graph" if computed_by(proto, heat[0]) else "here"}
    classes = maps[heat[0]][1]
    return Head("centernet", (heat[0], sizes, offsets), classes, size, strides=(stride,), decoded=False,
                layout=layout,
                reason=f"heatmap {heat[0]} {list(maps[heat[0]])}, sizes {sizes}, offsets {offsets}"
                       + (f", landmarks {marks[0]}" if marks else "")
                       + f" on a grid of stride {stride}, C = {classes} ("
                       + ("CenterFace: log sizes, height first" if face else "CenterNet: sizes in cells, width first")
                       + ")")


RETINA_STRIDES = (8, 16, 32)
RETINA_PRIORS = 2  # per cell: two square priors per level (16, 32 / 64, 128 / 256, 512 pixels)


def retinaface_head(shapes: Mapping[str, Shape], size: tuple[int, int], ops: set[str], kind: str | None
                    ) -> Head | None:
    """Box offsets, probabilities (and landmarks) with one row per prior of RetinaFace's layout, or None."""
    if kind not in (None, "retinaface") or (kind is None and "Exp" in ops):  # Exp: the boxes are decoded in the graph
        return None
    priors = RETINA_PRIORS * grid_cells(*size, RETINA_STRIDES)
    rows = {n: s if len(s) == 3 else (1, *s) for n, s in shapes.items() if len(s) in (2, 3)}
    by_width = {s[2]: n for n, s in rows.items() if s[1] == priors}
    if 4 not in by_width or 2 not in by_width or len(by_width) != len([s for s in rows.values() if s[1] == priors]):
        return None
    layout = {"boxes": by_width[4], "scores": by_width[2]}
    if LANDMARKS in by_width:
        layout["landmarks"] = by_width[LANDMARKS]
    marks = f", landmarks {layout['landmarks']}" if "landmarks" in layout else ""
    return Head("retinaface", (layout["boxes"], layout["scores"]), 1, size, strides=RETINA_STRIDES, decoded=False,
                layout=layout, ids="face",
                reason=f"box offsets {layout['boxes']}, probabilities {layout['scores']} (background, face){marks}: "
                       f"{priors} priors, {RETINA_PRIORS} per cell of strides 8, 16, 32 (RetinaFace, decoded here)")


def recognise_head(shapes: Mapping[str, Shape], input_size: tuple[int, int], proto: onnx.ModelProto | None = None,
                   kind: str | None = None) -> Head:
    """The head of a model whose outputs (name → shape, as a run returned them) these are. ``input_size``:
    (height, width) of the input. ``kind``: one of ``HEADS`` to name the layout instead of recognising it."""
    if kind is not None and kind not in HEADS:
        raise InputDataError(f"unknown head {kind!r}", hint="use one of " + ", ".join(HEADS))
    ops = _ops(proto)
    found = retinaface_head(shapes, input_size, ops, kind) if len(shapes) > 1 else None
    if found is None and len(shapes) > 1:
        found = _separate(shapes, input_size, kind, ops)
    if found is None and len(shapes) > 1:
        found = per_level_head(shapes, input_size, proto, kind)
    if found is None and len(shapes) > 2:
        found = centernet_head(shapes, input_size, proto, kind)
    if found is None:
        # an NMS in the graph keeps no row on a blank first frame: [N, 0, 6] still says what the rows are
        nms = kind == "nms" or bool(ops & {"NonMaxSuppression", "TopK"})
        three_d = [(n, s) for n, s in shapes.items() if len(s) in (2, 3) and (math.prod(s) > 0 or nms)]
        candidates = [h for n, s in three_d if (h := _single(n, s, input_size, ops, kind, proto)) is not None]
        if len(candidates) > 1:  # several outputs could each be a head: the largest (e.g. auxiliary outputs)
            candidates.sort(key=lambda h: -math.prod(shapes[h.outputs[0]]))
        found = candidates[0] if candidates else None
    if found is None:
        why = why_no_head(shapes, input_size)
        raise no_head(shapes, "; ".join(w for w in (f"no output fits --head {kind}" if kind else "", why) if w))
    if kind is None and found.kind in ("yolov8", "yolov5", "yolox"):
        beside = rows_beside(found.outputs[0], found.kind == "yolov8" and not found.transposed, shapes)
        if beside:
            raise no_head(shapes, f"{found.outputs[0]} reads as {found.kind}, but {beside}")
    if found.kind == "boxes-scores" and found.num_classes >= 2 and \
            computed_by(proto, found.layout["scores"], "Softmax"):
        found = replace(found, num_classes=found.num_classes - 1, background=True,
                        reason=f"{found.reason}; a Softmax makes the scores: column 0 is the background, "
                               f"C = {found.num_classes - 1}")
    if found.kind != "nms" and found.num_classes < 0:
        raise no_head(shapes)
    named = named_class_count(found.kind, found.num_classes, proto)
    if named is not None:
        found = replace(found, num_classes=named, reason=f"{found.reason}; the model names {named} classes: the other "
                        f"{found.num_classes - named} columns per box (mask coefficients or keypoints) are not read")
    return found
