"""``classify``: top-k classes of images, with the model's own input quantization, outputs dequantized
before softmax, and softmax only for an output the graph does not already make probabilities
(``onnpu.vision.scores``)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from onnpu.errors import InputDataError, RunError
from onnpu.metrics import top_k
from onnpu.model.exporter_metadata import class_names
from onnpu.model.inspection import tensor_infos
from onnpu.runtime.context_cache import open_session
from onnpu.runtime.inputs.finite import first_non_finite
from onnpu.runtime.placement import PlacementSummary
from onnpu.runtime.session import LoadedSession
from onnpu.runtime.targets import Target, require_inference
from onnpu.vision.labels import load_labels
from onnpu.vision.preprocess import PreprocessConfig, preprocess_for, preprocess_image, unused_size
from onnpu.vision.scores import score_reader

NAN_SCORES = "the model's scores hold NaN/Inf: nothing to rank"
NAN_HINT = "check the model on the CPU (onnpu run MODEL --target cpu) and its preprocessing (--scaling)"


@dataclass
class Prediction:
    index: int
    label: str
    score: float


@dataclass
class ImageResult:
    image: str
    top: list[Prediction]
    latency_ms: float


@dataclass
class ClassifyResult:
    model: str
    target: Target
    providers: list[str]
    placement: PlacementSummary | None
    session_seconds: float
    images: list[ImageResult]
    preprocess: PreprocessConfig
    softmax_applied: bool
    output_dequantized: bool
    output: str = ""
    scores: str = ""  # what the output holds: probabilities, log-probabilities or logits (from the graph)
    notes: list[str] = field(default_factory=list)

    @property
    def median_latency_ms(self) -> float:
        return statistics.median(i.latency_ms for i in self.images) if self.images else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "target": self.target.describe(), "providers": self.providers,
            "placement": self.placement.to_dict() if self.placement else None,
            "session_seconds": self.session_seconds, "median_latency_ms": self.median_latency_ms,
            "preprocess": self.preprocess.to_dict(), "softmax_applied": self.softmax_applied,
            "output_dequantized": self.output_dequantized, "output": self.output, "scores": self.scores,
            "notes": self.notes,
            "images": [{"image": r.image, "latency_ms": r.latency_ms,
                        "top": [{"index": p.index, "label": p.label, "score": p.score} for p in r.top]}
                       for r in self.images],
        }


def classify(images: Sequence[str | Path], model: str | Path, target: Target, *, labels: str | Path | None = None,
             top: int = 5, preprocess: PreprocessConfig | None = None, softmax_mode: bool | None = None,
             dims: dict[str, int] | None = None, output: str | None = None, repeat: int = 1,
             session: LoadedSession | None = None, cache: bool = False, threads: int | None = None) -> ClassifyResult:
    """Classify each image; the first inference is a warm-up and is not timed. Each image's latency is
    the median of ``repeat`` timed runs. ``threads``: ONNX Runtime's intra-op threads."""
    if not images:
        raise InputDataError("no images given", hint="pass one or more image files")
    require_inference(target, "classify")
    loaded = session or open_session(model, target, dims=dims, cache=cache, threads=threads)
    inputs, outputs = tensor_infos(loaded.proto)
    if len(inputs) != 1:
        raise InputDataError(f"{model}: classify needs a model with one image input (it has {len(inputs)})",
                             hint="use `onnpu run` for multi-input models")
    info = inputs[0].with_dims(dims)
    reader = score_reader(loaded.proto, outputs, output=output, use_softmax=softmax_mode, model=str(model))
    config = preprocess_for(loaded.proto, preprocess, str(model))
    notes = []
    if info.quant is not None and not np.issubdtype(info.numpy_dtype, np.floating):
        notes.append(f"input quantized with the model's scale {info.quant.scale[0]:.6g}, zero point "
                     f"{info.quant.zero_point[0]} ({info.quant.source})")
    if reader.dequantizes and reader.output.quant is not None:
        notes.append(f"output dequantized with its scale {reader.output.quant.scale[0]:.6g}, zero point "
                     f"{reader.output.quant.zero_point[0]} before scoring")
    notes.append(reader.describe())
    unused = unused_size(inputs[0], preprocess.size if preprocess else None, model)
    notes += [unused] if unused else []
    fixed_batch = info.shape[0] if info.shape and isinstance(info.shape[0], int) else 1
    if fixed_batch > 1:
        notes.append(f"the model's batch is fixed at {fixed_batch}: each image is repeated to fill it")
    results: list[ImageResult] = []
    label_names: list[str] | None = None
    for idx, image in enumerate(images):
        tensor = preprocess_image(image, info, config)  # a batch of one
        if fixed_batch > 1:
            tensor = np.repeat(tensor, fixed_batch, axis=0)
        feeds = {info.name: tensor}
        if idx == 0:
            loaded.run(feeds, [reader.output.name])  # warm-up
        times = []
        for _ in range(max(1, repeat)):
            start = time.perf_counter()
            raw = loaded.run(feeds, [reader.output.name])[0]
            times.append((time.perf_counter() - start) * 1000)
        latency = statistics.median(times)
        scores = reader.rows(np.asarray(raw))[0]
        if first_non_finite({reader.output.name: [scores]}) is not None:  # NaN is never ranked
            raise RunError(f"{model}: {NAN_SCORES} ({image})", hint=NAN_HINT)
        if label_names is None:
            label_names = load_labels(labels, scores.shape[-1], class_names(loaded.proto))
        order = top_k(scores, top)
        results.append(ImageResult(str(image), [Prediction(int(i), label_names[i], float(scores[i])) for i in order],
                                   latency))
    return ClassifyResult(str(model), target, loaded.providers, loaded.placement, loaded.create_seconds, results,
                          config, reader.apply_softmax, reader.dequantizes, reader.output.name, reader.kind, notes)
