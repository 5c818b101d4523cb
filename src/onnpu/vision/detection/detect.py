"""``detect``: the objects in images — letterbox (or the head's own fit), one run per image, the head decoded,
class-aware NMS, boxes back in original pixels. An image that cannot be read is a row that says so; the
others run."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from onnpu.errors import InputDataError, OnnpuError
from onnpu.runtime.targets import Target, require_inference
from onnpu.vision.detection.detector import Detector, DetectPreprocess, open_detector
from onnpu.vision.detection.results import (
    DetectResult,
    ImageDetections,
    assumed_labels,
    boxes_of,
    detection_labels,
)


def detect_image(detector: Detector, image: str | Path, labels: list[str], *, conf: float = 0.25,
                 iou: float = 0.45, max_det: int = 300) -> ImageDetections:
    """One image through ``detector`` (a fixed batch is filled with it)."""
    import numpy as np

    try:
        img, scale = detector.load(image)
    except OnnpuError as exc:
        return ImageDetections(str(image), error=str(exc))
    tensor, placement = detector.tensor(img, scale)
    if detector.batch_fixed and detector.batch_fixed > 1:
        tensor = np.repeat(tensor, detector.batch_fixed, axis=0)
    start = time.perf_counter()
    outputs = detector.run(tensor)
    found = detector.detections(outputs, placement, conf=conf, iou=iou, max_det=max_det)
    latency = (time.perf_counter() - start) * 1000
    return ImageDetections(str(image), placement.width, placement.height, boxes_of(found, labels), latency)


def detect(images: Sequence[str | Path], model: str | Path, target: Target, *, head: str | None = None,
           labels: str | None = None, conf: float = 0.25, iou: float = 0.45, max_det: int = 300,
           preprocess: DetectPreprocess | None = None, dims: dict[str, int] | None = None, cache: bool = True,
           threads: int | None = None) -> DetectResult:
    """Detect objects in each image. The first run (on a blank image) is the warm-up that recognises the
    head; each image's latency covers inference, decoding and NMS."""
    if not images:
        raise InputDataError("no images given", hint="pass one or more image files")
    require_inference(target, "detect")
    detector = open_detector(model, target, head=head, preprocess=preprocess, dims=dims, cache=cache,
                             threads=threads)
    names = detection_labels(labels, detector.head.num_classes, detector.loaded.proto, detector.head.ids)
    results = [detect_image(detector, image, names, conf=conf, iou=iou, max_det=max_det) for image in images]
    loaded = detector.loaded
    return DetectResult(str(model), target, loaded.providers, loaded.placement, loaded.create_seconds,
                        detector.head, detector.preprocess.to_dict(),
                        {"conf": conf, "iou": iou, "max_det": max_det}, results,
                        [detector.head.describe(), *detector.notes,
                         *filter(None, [assumed_labels(labels, detector.head, detector.loaded.proto)])])
