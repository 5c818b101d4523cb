"""Tensors ONNX Runtime's quantizer gets wrong for the HTP, found before it runs:

- **Mask-only tensors.** A tensor computed only from mask inputs and constants (``Where(Not(mask), -100, 0)``,
  ``(1 - mask) · -10000``) takes values the calibration inputs may never show: sentences without padding leave
  the fill at 0, its calibrated range [0, 0], and a padded sentence then gets no mask at all on the NPU. Its range
  is measured over every mask the inputs may hold — the calibration masks, all on and all off — and given to the
  quantizer as an override.
- **Float islands.** A float graph input read only by ``Gather``s (a recurrent state split in two), or a
  ``Where`` of float constants read only by data movement (a mask fill reshaped) or as a graph output, stays float
  in the quantizer's output: HTP v68 computes no float (QCS6490 refuses the nodes). The quantizer is then told to
  quantize such ops' inputs (its ``ForceQuantizeNoInputCheck``), which it does only for float tensors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import onnx
from onnx import shape_inference

from onnpu.model.graphs import constant_tensors, consumers, topological_nodes, with_outputs
from onnpu.quantization.calibration import evenly
from onnpu.runtime.inputs.kinds import input_kinds

MOVES = {"Gather", "Reshape", "Unsqueeze", "Squeeze", "Transpose", "Slice", "Split", "Flatten", "Expand", "Identity"}
FEEDS = 4  # calibration inputs the mask variants are made from


def _float_types(model: onnx.ModelProto) -> dict[str, int]:
    try:
        inferred = shape_inference.infer_shapes(model)
    except Exception:
        return {}
    values = [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]
    return {v.name: v.type.tensor_type.elem_type for v in values
            if v.type.tensor_type.elem_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16)}


def mask_ranges(model: onnx.ModelProto, calibration: Sequence[Mapping[str, np.ndarray]]
                ) -> dict[str, tuple[float, float]]:
    """The range of every float tensor computed only from mask inputs and constants, over the calibration masks and
    the masks all on and all off (the other inputs as calibration gave them)."""
    try:
        kinds = input_kinds(model)
    except Exception:
        return {}
    masks = {name for name, kind in kinds.items() if kind.kind == "mask"}
    if not masks or not calibration:
        return {}
    consts = constant_tensors(model)
    only = set(masks) | set(consts)
    made: list[str] = []
    for node in topological_nodes(model.graph):
        inputs = [x for x in node.input if x]
        if node.op_type == "Constant" or not inputs or any(a.type == onnx.AttributeProto.GRAPH for a in node.attribute):
            continue
        if all(x in only for x in inputs):
            only.update(node.output)
            made.extend(node.output)
    floats = _float_types(model)
    wanted = [name for name in made if name in floats]
    if not wanted:
        return {}
    probe = with_outputs(model, wanted)
    feeds: list[dict[str, np.ndarray]] = []
    for feed in evenly(calibration, FEEDS):
        feeds.append(dict(feed))
        for fill in (1, 0):
            feeds.append({k: (np.full_like(v, fill) if k in masks else v) for k, v in feed.items()})
    from onnpu.quantization.evaluate import run_on_cpu

    with np.errstate(all="ignore"):
        outputs = run_on_cpu(probe, feeds, exact=True)
    ranges: dict[str, tuple[float, float]] = {}
    for name in wanted:
        values = [np.asarray(v, np.float64) for v in outputs.get(name, [])]
        finite = [v[np.isfinite(v)] for v in values]
        finite = [v for v in finite if v.size]
        if finite:
            low = min(0.0, min(float(v.min()) for v in finite))
            high = max(0.0, max(float(v.max()) for v in finite))
            if high > low:
                ranges[name] = (low, high)
    return ranges


def float_islands(model: onnx.ModelProto) -> list[str]:
    """Float graph inputs read only by Gathers, and Wheres of float constants read only by data movement or as a graph
    output: what the quantizer would leave float (measured: a voice-activity detector's state, a token classifier's
    mask fill, a pitch model's confidence).
    Narrow on purpose: the flag it sets changes how the quantizer treats every data-movement op of the model."""
    consts = constant_tensors(model)
    users = consumers(model.graph)
    found = []
    for value in model.graph.input:
        readers = users.get(value.name, [])
        if (value.name not in consts and value.type.tensor_type.elem_type == onnx.TensorProto.FLOAT and readers
                and all(r.op_type == "Gather" for r in readers)):
            found.append(value.name)
    outputs = {o.name for o in model.graph.output}
    for node in model.graph.node:
        readers = users.get(node.output[0], []) if node.output else []
        if (node.op_type == "Where" and (readers or node.output[0] in outputs)
                and all(r.op_type in MOVES for r in readers)
                and any(x in consts and consts[x].data_type == onnx.TensorProto.FLOAT for x in node.input[1:3])):
            found.append(node.name or node.output[0])
    return found


def with_ranges(overrides: Mapping[str, list[dict[str, object]]], ranges: Mapping[str, tuple[float, float]]
                ) -> dict[str, list[dict[str, object]]]:
    """The quantizer's tensor overrides with ``ranges`` added (``rmin``/``rmax`` beside any type already set)."""
    merged = {name: [dict(entry) for entry in entries] for name, entries in overrides.items()}
    for name, (low, high) in ranges.items():
        entries = merged.setdefault(name, [{}])
        for entry in entries:
            entry.update(rmin=np.float32(low), rmax=np.float32(high))
    return merged
