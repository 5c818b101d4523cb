"""What exporters write into a model's ``metadata_props`` that onnpu can use: its class names and the input size
it was exported for. Ultralytics (YOLOv5/v8/v11, detect and classify) writes ``names`` as a Python dict literal
(``{0: 'person', 1: 'bicycle'}``) and ``imgsz`` as a list (``[640, 640]``, height then width); JSON lists and
objects are read too. A model file is untrusted: the values are parsed as literals only (never evaluated), size
capped, and anything else is ignored rather than guessed at."""

from __future__ import annotations

import ast
import json
from typing import TYPE_CHECKING, Any

from onnpu.guards import printable

if TYPE_CHECKING:
    import onnx

NAMES_KEYS = ("names", "labels", "classes")
SIZE_KEYS = ("imgsz", "img_size", "input_size")
MAX_TEXT = 1 << 20  # 1 MiB of names is ~50,000 classes
MAX_SIDE = 8192


def _props(model: onnx.ModelProto) -> dict[str, str]:
    return {m.key: m.value for m in model.metadata_props}


def _literal(text: str) -> Any:
    """``text`` as JSON or a Python literal; None when it is neither (or too long to be metadata)."""
    if len(text) > MAX_TEXT:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _names_of(value: Any) -> list[str] | None:
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return [printable(v.strip()) for v in value]
    if isinstance(value, dict) and value:
        try:
            indexed = {int(k): v for k, v in value.items()}
        except (TypeError, ValueError):
            return None
        if sorted(indexed) == list(range(len(indexed))) and all(isinstance(v, str) for v in indexed.values()):
            return [printable(indexed[i].strip()) for i in range(len(indexed))]
    return None


def class_names(model: onnx.ModelProto) -> list[str] | None:
    """The class names the exporter wrote (index order), or None when the model carries none readable."""
    props = _props(model)
    for key in NAMES_KEYS:
        if key in props:
            names = _names_of(_literal(props[key]))
            if names:
                return names
    return None


def exported_task(model: onnx.ModelProto) -> str | None:
    """The task the exporter wrote (Ultralytics: ``detect``, ``segment``, ``pose``, ``obb``, ``classify``)."""
    task = _props(model).get("task", "").strip().lower()
    return task if task and len(task) < 32 else None


def input_size(model: onnx.ModelProto) -> tuple[int, int] | None:
    """The (height, width) the model was exported for, or None."""
    props = _props(model)
    for key in SIZE_KEYS:
        if key not in props:
            continue
        value = _literal(props[key])
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value, value]
        if (isinstance(value, (list, tuple)) and len(value) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_SIDE for v in value)):
            return int(value[0]), int(value[1])
    return None


def exported_dims(model: onnx.ModelProto) -> dict[str, int] | None:
    """For a model of one image input [N, C, H, W] (or [N, H, W, C]) whose exporter wrote the size it was made for:
    the values of its symbolic dims at that size, batch 1; None otherwise."""
    from onnpu.model.inspection import tensor_infos

    size = input_size(model)
    if size is None:
        return None
    inputs = tensor_infos(model)[0]
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        return None
    shape = inputs[0].shape
    spatial = (2, 3) if isinstance(shape[1], int) else (1, 2)
    dims: dict[str, int] = {}
    for axis, value in ((0, 1), *zip(spatial, size, strict=True)):
        name = shape[axis]
        if isinstance(name, str):
            dims[name] = value
    return dims or None
