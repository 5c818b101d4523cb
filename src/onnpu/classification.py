"""``classify``: top-k classes of images, with the model's own input quantization, outputs dequantized
before softmax, and softmax only when the output is not already a probability vector."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from onnpu.errors import InputDataError
from onnpu.inspection import TensorInfo, tensor_infos
from onnpu.placement import PlacementSummary
from onnpu.preprocess import PreprocessConfig, config_from_metadata, preprocess_image
from onnpu.qparams import dequantize
from onnpu.session import LoadedSession
from onnpu.targets import Target

IMAGENET_LABELS = "imagenet1k_labels.txt"


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
        return float(np.median([i.latency_ms for i in self.images])) if self.images else float("nan")

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


def imagenet_labels() -> list[str]:
    text = resources.files("onnpu.data").joinpath(IMAGENET_LABELS).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line]


def load_labels(path: str | Path | None, num_classes: int) -> list[str]:
    """Labels from a text file (one per line) or JSON (list, or {index: name}); ImageNet-1k when no file is
    given and the model has 1000 (or 1001, with background) classes; class numbers otherwise."""
    if path is None:
        if num_classes in (1000, 1001):
            names = imagenet_labels()
            return ["background", *names] if num_classes == 1001 else names
        return [f"class {i}" for i in range(num_classes)]
    p = Path(path)
    if not p.is_file():
        raise InputDataError(f"{p}: labels file not found", hint="give a text file with one class name per line")
    try:
        text = p.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError) as exc:
        raise InputDataError(f"{p}: cannot read the labels file ({exc})", hint="save it as UTF-8 text") from exc
    if p.suffix.lower() == ".json":
        data = json.loads(text)
        labels = [str(data[k]) for k in sorted(data, key=int)] if isinstance(data, dict) else [str(x) for x in data]
    else:
        labels = [line.strip() for line in text.splitlines() if line.strip()]
    if len(labels) != num_classes:
        raise InputDataError(f"{p}: has {len(labels)} labels but the model has {num_classes} classes",
                             hint="use the labels file that belongs to this model")
    return labels


def is_probability(v: np.ndarray, tol: float = 1e-2) -> bool:
    """True when every row is already a probability vector (non-negative, summing to 1)."""
    return bool(np.all(v >= -1e-6) and np.allclose(v.sum(axis=-1), 1.0, atol=tol))


def softmax(v: np.ndarray) -> np.ndarray:
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def scores_from_output(raw: np.ndarray, info: TensorInfo, use_softmax: bool | None) -> tuple[np.ndarray, bool, bool]:
    """Dequantize a quantized output with its own parameters, then softmax unless already probabilities.
    Returns (scores of shape [classes], softmax applied, dequantized)."""
    dequantized = False
    values = raw
    if not np.issubdtype(raw.dtype, np.floating):
        if info.quant is None:
            raise InputDataError(f"output {info.name!r} is {raw.dtype} but the model carries no quantization "
                                 "parameters for it", hint="re-export the model with its output DequantizeLinear")
        values = dequantize(raw, info.quant)
        dequantized = True
    values = values.reshape(-1, values.shape[-1])[0].astype(np.float32)
    apply = (not is_probability(values)) if use_softmax is None else use_softmax
    return (softmax(values) if apply else values), apply, dequantized


def classify(images: Sequence[str | Path], model: str | Path, target: Target, *, labels: str | Path | None = None,
             top: int = 5, preprocess: PreprocessConfig | None = None, softmax_mode: bool | None = None,
             dims: dict[str, int] | None = None, output: str | None = None, repeat: int = 1,
             session: LoadedSession | None = None, cache: bool = False) -> ClassifyResult:
    """Classify each image; the first inference is a warm-up and is not timed. Each image's latency is
    the median of ``repeat`` timed runs."""
    if not images:
        raise InputDataError("no images given", hint="pass one or more image files")
    if session is None:
        from onnpu.context_cache import open_session

        session = open_session(model, target, dims=dims, cache=cache)
    loaded = session
    inputs, outputs = tensor_infos(loaded.proto)
    if len(inputs) != 1:
        raise InputDataError(f"{model}: classify needs a model with one image input (it has {len(inputs)})",
                             hint="use `onnpu run` for multi-input models")
    info = inputs[0]
    out_info = next((o for o in outputs if o.name == output), None) if output else outputs[0]
    if out_info is None:
        raise InputDataError(f"{model}: no output named {output!r}",
                             hint="outputs: " + ", ".join(o.name for o in outputs))
    metadata = {m.key: m.value for m in loaded.proto.metadata_props}
    config = preprocess or config_from_metadata(metadata) or PreprocessConfig()
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
        latency = float(np.median(times))
        scores, applied, dequantized = scores_from_output(np.asarray(raw), out_info, softmax_mode)
        if label_names is None:
            label_names = load_labels(labels, scores.shape[-1])
        order = np.argsort(-scores, kind="stable")[:top]
        results.append(ImageResult(str(image), [Prediction(int(i), label_names[i], float(scores[i])) for i in order],
                                   latency))
    if dequantized:
        notes.append(f"output dequantized with its scale {out_info.quant.scale[0]:.6g}, zero point "  # type: ignore[union-attr]
                     f"{out_info.quant.zero_point[0]} before softmax")  # type: ignore[union-attr]
    return ClassifyResult(str(model), target, loaded.providers, loaded.placement, loaded.create_seconds, results,
                          config, applied, dequantized, notes)
