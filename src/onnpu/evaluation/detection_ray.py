"""``onnpu eval … --annotations COCO.json --ray auto|ADDRESS``: the detection runs as a Ray Data job, as the
classification does (``onnpu.evaluation.ray_job``: the same cluster connection, the models and compiled NPU
contexts shipped once per node). Each actor holds one detector per model × target and runs every image
through ``detect``'s own steps (decode, letterbox, run, decode the head, NMS), so the detections are those of
the single-machine run; the driver scores them with the same COCO evaluator. Records are keyed by image
index: a batch retried after a killed actor counts once, a missing image is an error."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from onnpu import progress
from onnpu.errors import InputDataError
from onnpu.evaluation.local import STAGE, chunk_size
from onnpu.evaluation.ray_job import Bundle, _ray, bundle, connect, install
from onnpu.evaluation.worker import EvalSpec
from onnpu.vision.detection.decoding import Detections
from onnpu.vision.detection.detector import Detector, open_detector
from onnpu.vision.detection.folder import prepare_image

__all__ = ["DetectActor", "ImageRecord", "run_ray_detection"]


@dataclass
class ImageRecord:
    """One image: its index, size, and each row's detections (or why it could not be read)."""

    index: int
    width: int = 0
    height: int = 0
    found: list[Detections] | None = None
    error: str | None = None


def open_detectors(spec: EvalSpec) -> list[Detector]:
    """One detector per row, as ``detect_folder`` opens it (one intra-op thread: actors use the cores)."""
    local = dict(spec.models_on_node)
    return [open_detector(local.get(row.model, row.model), row.target, cache=spec.cache, threads=spec.threads,
                          config={"session.intra_op.allow_spinning": "0"}) for row in spec.rows]


def detect_image(detectors: Sequence[Detector], path: str, conf: float, iou: float, max_det: int
                 ) -> tuple[int, int, list[Detections]] | str:
    """Every row's detections for one image (``detect_folder``'s steps for an image), or its error."""
    found: list[Detections] = []
    size = (0, 0)
    for detector in detectors:
        prepared = prepare_image(detector, Path(path), True)
        if isinstance(prepared, str):
            return prepared
        tensor, placement = prepared
        if detector.batch_fixed and detector.batch_fixed > 1:
            tensor = np.repeat(tensor, detector.batch_fixed, axis=0)
        found.append(detector.detections(detector.run(tensor), placement, 0, conf=conf, iou=iou, max_det=max_det))
        size = (placement.width, placement.height)
    return size[0], size[1], found


def _encode(found: list[Detections]) -> str:
    return json.dumps([{"boxes": d.boxes.tolist(), "scores": d.scores.tolist(), "classes": d.classes.tolist(),
                        "points": None if d.points is None else d.points.tolist()} for d in found])


def _decode(text: str) -> list[Detections]:
    return [Detections(np.asarray(d["boxes"], np.float64).reshape(-1, 4), np.asarray(d["scores"], np.float64),
                       np.asarray(d["classes"], np.int64),
                       None if d.get("points") is None else np.asarray(d["points"], np.float64).reshape(
                           len(d["scores"]), -1, 2))
            for d in json.loads(text)]


class DetectActor:
    """One Ray actor: installs what was shipped (once per node), opens the detectors, detects batches."""

    def __init__(self, spec: EvalSpec, shipped: Any, conf: float, iou: float, max_det: int) -> None:
        ray = _ray()
        if isinstance(shipped, ray.ObjectRef):
            shipped = ray.get(shipped)
        self.detectors = open_detectors(install(spec, shipped))
        self.conf, self.iou, self.max_det = conf, iou, max_det
        self.where = f"{socket.gethostname()}:{os.getpid()}"

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        sizes, found, errors = [], [], []
        for path in batch["path"]:
            result = detect_image(self.detectors, str(path), self.conf, self.iou, self.max_det)
            if isinstance(result, str):
                sizes.append((0, 0))
                found.append("")
                errors.append(result)
            else:
                sizes.append(result[:2])
                found.append(_encode(result[2]))
                errors.append("")
        return {"index": np.asarray(batch["index"], np.int64), "size": np.array(sizes, np.int64).reshape(-1, 2),
                "found": np.array(found, dtype=object), "error": np.array(errors, dtype=object),
                "worker": np.array([self.where] * len(found), dtype=object)}


def run_ray_detection(spec: EvalSpec, items: Sequence[tuple[int, str]], address: str, *, conf: float, iou: float,
                      max_det: int = 300) -> tuple[list[ImageRecord], dict[str, Any]]:
    """Detections of every row for every ``(index, path)``, in index order, and the cluster's description."""
    cluster = connect(address)
    import ray
    import ray.data

    actors = max(1, min(cluster["cpus"], len(items)))
    size = chunk_size(len(items), actors)
    shipped: Bundle = bundle(spec)
    ref = ray.put(shipped)
    dataset = ray.data.from_items([{"index": i, "path": p} for i, p in items],
                                  override_num_blocks=max(1, min(len(items), 4 * actors)))
    mapped = dataset.map_batches(DetectActor, fn_constructor_args=(spec, ref, conf, iou, max_det), batch_size=size,
                                 batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=1)
    by_index: dict[int, ImageRecord] = {}
    workers: dict[str, int] = {}
    received = 0
    for batch in mapped.iter_batches(batch_size=None, batch_format="numpy"):
        for index, (w, h), found, error, worker in zip(batch["index"], batch["size"], batch["found"], batch["error"],
                                                       batch["worker"], strict=True):
            received += 1
            record = ImageRecord(int(index), int(w), int(h), None if error else _decode(str(found)),
                                 str(error) or None)
            by_index.setdefault(record.index, record)  # a batch delivered twice counts once
            workers[str(worker)] = workers.get(str(worker), 0) + 1
        progress.advance(STAGE, len(by_index), len(items))
    missing = [i for i, _ in items if i not in by_index]
    if missing:
        raise InputDataError(f"{len(missing)} image(s) came back from no worker (first: #{missing[0]})",
                             hint="run again; if it repeats, run without --ray to see the image's error")
    cluster.update({"actors": actors, "batch": size, "images_per_worker": workers, "records_received": received})
    return [by_index[i] for i, _ in items], cluster
