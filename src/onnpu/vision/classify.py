"""``classify``: top-k classes of images, with the model's own input quantization, outputs dequantized
before softmax, and softmax only when the output is not already a probability vector."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from onnpu.errors import InputDataError
from onnpu.metrics import top_k
from onnpu.model.inspection import tensor_infos
from onnpu.runtime.context_cache import open_session
from onnpu.runtime.placement import PlacementSummary
from onnpu.runtime.session import LoadedSession
from onnpu.runtime.targets import Target
from onnpu.vision.labels import load_labels
from onnpu.vision.preprocess import PreprocessConfig, preprocess_for, preprocess_image
from onnpu.vision.scores import scores_from_output


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
            "output_dequantized": self.output_dequantized, "notes": self.notes,
            "images": [{"image": r.image, "latency_ms": r.latency_ms,
                        "top": [{"index": p.index, "label": p.label, "score": p.score} for p in r.top]}
                       for r in self.images],
        }


def classify(images: Sequence[str | Path], model: str | Path, target: Target, *, labels: str | Path | None = None,
             top: int = 5, preprocess: PreprocessConfig | None = None, softmax_mode: bool | None = None,
             dims: dict[str, int] | None = None, output: str | None = None, repeat: int = 1,
             session: LoadedSession | None = None, cache: bool = False) -> ClassifyResult:
    """Classify each image; the first inference is a warm-up and is not timed. Each image's latency is
    the median of ``repeat`` timed runs."""
    if not images:
        raise InputDataError("no images given", hint="pass one or more image files")
    loaded = session or open_session(model, target, dims=dims, cache=cache)
    inputs, outputs = tensor_infos(loaded.proto)
    if len(inputs) != 1:
        raise InputDataError(f"{model}: classify needs a model with one image input (it has {len(inputs)})",
                             hint="use `onnpu run` for multi-input models")
    info = inputs[0]
    out_info = next((o for o in outputs if o.name == output), None) if output else outputs[0]
    if out_info is None:
        raise InputDataError(f"{model}: no output named {output!r}",
                             hint="outputs: " + ", ".join(o.name for o in outputs))
    config = preprocess_for(loaded.proto, preprocess)
    notes = []
    if info.quant is not None and not np.issubdtype(info.numpy_dtype, np.floating):
        notes.append(f"input quantized with the model's scale {info.quant.scale[0]:.6g}, zero point "
                     f"{info.quant.zero_point[0]} ({info.quant.source})")
    results: list[ImageResult] = []
    label_names: list[str] | None = None
    applied = dequantized = False
    for idx, image in enumerate(images):
        tensor = preprocess_image(image, info, config)
        feeds = {info.name: tensor}
        if idx == 0:
            loaded.run(feeds, [out_info.name])  # warm-up
        times = []
        for _ in range(max(1, repeat)):
            start = time.perf_counter()
            raw = loaded.run(feeds, [out_info.name])[0]
            times.append((time.perf_counter() - start) * 1000)
        latency = statistics.median(times)
        scores, applied, dequantized = scores_from_output(np.asarray(raw), out_info, softmax_mode)
        if label_names is None:
            label_names = load_labels(labels, scores.shape[-1])
        order = top_k(scores, top)
        results.append(ImageResult(str(image), [Prediction(int(i), label_names[i], float(scores[i])) for i in order],
                                   latency))
    if dequantized:
        notes.append(f"output dequantized with its scale {out_info.quant.scale[0]:.6g}, zero point "  # type: ignore[union-attr]
                     f"{out_info.quant.zero_point[0]} before softmax")  # type: ignore[union-attr]
    return ClassifyResult(str(model), target, loaded.providers, loaded.placement, loaded.create_seconds, results,
                          config, applied, dequantized, notes)
