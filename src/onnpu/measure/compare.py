"""``compare``: how much the outputs of two models, or one model on two targets, differ on the same inputs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from onnpu.errors import InputDataError
from onnpu.metrics import OutputQuality, compare_outputs
from onnpu.model.files import read_model
from onnpu.model.inspection import TensorInfo, tensor_infos
from onnpu.model.shapes import dims_from, inputs_source
from onnpu.quantization.calibration import model_inputs
from onnpu.quantization.evaluate import output_tasks
from onnpu.runtime.context_cache import open_session
from onnpu.runtime.feeds import pair_outputs, run_feeds
from onnpu.runtime.inputs import check_finite
from onnpu.runtime.targets import Target, require_inference
from onnpu.vision.preprocess import PreprocessConfig


@dataclass
class CompareResult:
    reference: str
    candidate: str
    samples: int
    input_source: str
    outputs: list[OutputQuality]
    placements: dict[str, str] = field(default_factory=dict)  # side ("reference", "candidate") → headline
    random_inputs: str = ""  # how random inputs were made, per input ("" for real inputs)
    skipped: dict[str, str] = field(default_factory=dict)  # output → why it was not compared (its data's shape)

    def to_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "candidate": self.candidate, "samples": self.samples,
                "input_source": self.input_source, "random_inputs": self.random_inputs or None,
                "outputs": [o.to_dict() for o in self.outputs], "placements": self.placements,
                "skipped_outputs": self.skipped}


# ops whose output size the data decides: an output after one of them may differ in size from input to input
DATA_SIZED_OPS = frozenset({"NonZero", "NonMaxSuppression", "TopK", "Unique", "Compress", "Loop", "If", "Scan"})


def data_dependent(reference: list[np.ndarray], candidate: list[np.ndarray], info: TensorInfo | None,
                   sized_by_data: bool) -> str | None:
    """Why an output whose size the data decides cannot be compared value by value on these inputs — empty on every
    input, or sizes that differ from input to input or between the two runs — or None when it can. Only where the
    graphs have an op that sizes its output by the data (``sized_by_data``: NonZero, an NMS …) and the output leaves
    a dim open or its sizes vary within one run: otherwise two shapes that differ are an error, not this."""
    if not sized_by_data:
        return None
    runs = [*reference, *candidate]
    shapes = sorted({np.shape(x) for x in runs})
    if all(np.size(x) == 0 for x in runs):
        return f"empty on these inputs (shape {list(shapes[0])})"
    if len(shapes) == 1:
        return None
    ragged = len({np.shape(x) for x in reference}) > 1 or len({np.shape(x) for x in candidate}) > 1
    if not ragged and info is not None and not info.is_dynamic:
        return None
    listed = ", ".join(str(list(s)) for s in shapes[:4]) + (" …" if len(shapes) > 4 else "")
    return f"its size depends on the data (shapes {listed} on these inputs)"


def step_args(info: TensorInfo | None) -> dict[str, Any]:
    """``compare_outputs``' step arguments for an output: its quantization step, or integer steps."""
    if info is None:
        return {}
    if info.quant is not None:
        return {"scale": info.quant.scale, "axis": info.quant.axis}
    return {"integer": not np.issubdtype(info.numpy_dtype, np.floating)}


def _label(model: str | Path, target: Target) -> str:
    """``model.onnx @ npu (QCS6490 HTP v68, emulated)``: which SoC an NPU number is for, always said."""
    return f"{Path(model).name} @ {target.name}" + (f" ({target.hardware})" if target.is_qnn else "")


def compare(reference: tuple[str | Path, Target], candidate: tuple[str | Path, Target], *,
            inputs: str | Path = "random", count: int = 8, preprocess: PreprocessConfig | None = None,
            dims: Mapping[str, int] | None = None, seed: int = 0, cache: bool = True,
            input_ranges: Mapping[str, tuple[float, float]] | None = None) -> CompareResult:
    """Run both on the same inputs (images, samples, or ``random``: each input in the range of what it feeds,
    ``input_ranges`` winning) and compare every output they share. A NaN or Inf output is an error."""
    ref_model, ref_target = reference
    cand_model, cand_target = candidate
    require_inference(ref_target, "compare")
    require_inference(cand_target, "compare")
    if str(ref_model) != str(cand_model):  # a float model with dynamic dims beside its fixed copy: its sizes
        ref_proto, cand_proto = (read_model(m, load_external_data=False) for m in (ref_model, cand_model))
        dims = {**dims_from(ref_proto, cand_proto), **dims_from(cand_proto, ref_proto), **(dims or {})} or None
    ref = open_session(ref_model, ref_target, dims=dims, cache=cache)
    cand = open_session(cand_model, cand_target, dims=dims, cache=cache)
    try:  # the data is made for the reference's inputs: an error about one of them names it
        data = model_inputs(inputs, inputs_source(ref.proto, cand.proto, dims), count, preprocess=preprocess,
                            seed=seed, dims=dims, overrides=input_ranges)
    except InputDataError as exc:
        if exc.message.startswith("input "):
            exc.message = f"{ref_model}: {exc.message}"
        raise
    feeds = data.calibration
    a = run_feeds(ref, feeds, model=str(ref_model), dims=dims)
    check_finite(a, model=str(ref_model), samples=data.calibration_names, inputs=data.random_kinds)
    takes = {i.name for i in tensor_infos(cand.proto)[0]}
    constant = {n for n, (lo, hi) in (input_ranges or {}).items() if lo == hi}
    if not {n for f in feeds for n in f} - takes - constant:  # the candidate baked the --input-value inputs in
        feeds = [{n: v for n, v in f.items() if n in takes} for f in feeds]
    b = run_feeds(cand, feeds, model=str(cand_model), dims=dims)
    check_finite(b, model=str(cand_model), samples=data.calibration_names, inputs=data.random_kinds)
    steps = {o.name: o for o in tensor_infos(cand.proto)[1]}  # drift in the candidate's output steps
    tasks = output_tasks(ref.proto)  # top-1 for class scores, cosine for embeddings, errors for boxes/pixels
    sized_by_data = any(n.op_type in DATA_SIZED_OPS for m in (ref.proto, cand.proto) for n in m.graph.node)
    qualities, skipped = [], {}
    for label, x, y in pair_outputs(a, b):
        why = data_dependent(a[x], b[y], steps.get(y), sized_by_data)
        if why:
            skipped[label] = why
        else:
            qualities.append(compare_outputs(label, a[x], b[y], task=tasks.get(x), **step_args(steps.get(y))))
    if not qualities and skipped:
        listed = "; ".join(f"{k}: {v}" for k, v in skipped.items())
        models = str(ref_model) if str(ref_model) == str(cand_model) else f"{ref_model} and {cand_model}"
        raise InputDataError(f"{models}: no output to compare value by value: {listed}",
                             hint="the size of what a NonZero or an NMS gives differs with the data; for a "
                                  "detector, `onnpu detect IMAGES --eval ANNOTATIONS.json --model A --model B` "
                                  "compares the detections")
    placements = {side: s.placement.headline() if s.placement else "not recorded"
                  for side, s in (("reference", ref), ("candidate", cand))}
    return CompareResult(_label(ref_model, ref_target), _label(cand_model, cand_target),
                         len(feeds), str(inputs), qualities, placements, data.random_kinds, skipped)
