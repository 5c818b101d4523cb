"""Folder-scale ``detect``: classify's pipeline (``onnpu.vision.folder``) for detectors — decode, letterbox
and tensor conversion in worker threads that overlap inference (bounded, results in input order), JPEGs
decoded at a reduced size that divides theirs exactly, batches when the model's batch allows, one JSONL row per
image streamed as it comes, ``--resume``, progress (stage ``detecting``)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from onnpu import jsonio, progress
from onnpu.errors import InputDataError, OnnpuError
from onnpu.guards import check_destination, write_error
from onnpu.machine import peak_rss_mb
from onnpu.model.files import model_files
from onnpu.runtime.targets import Target, require_inference
from onnpu.storage import sha256_file
from onnpu.vision.detection.detector import Detector, DetectPreprocess, open_detector
from onnpu.vision.detection.letterbox import Placement
from onnpu.vision.detection.results import ImageDetections, assumed_labels, boxes_of, detection_labels
from onnpu.vision.folder import _ordered, collect_images
from onnpu.vision.results import ResultWriter

DETECT_SCHEMA = "onnpu.detect-results/1"


class DetectionWriter(ResultWriter):
    """One JSON line per image: ``{"image", "width", "height", "latency_ms", "detections": [{"class", "label",
    "score", "box"}]}`` or ``{"image", "error"}``."""

    schema = DETECT_SCHEMA
    suffixes = (".jsonl",)

    def _parse(self, line: str) -> str | None:
        try:
            row = json.loads(line)
        except ValueError:
            return None
        ok = isinstance(row, dict) and "error" not in row and isinstance(row.get("detections"), list) \
            and isinstance(row.get("image"), str)
        return row["image"] if ok else None

    def write_image(self, result: ImageDetections) -> None:
        try:
            self._file.write(jsonio.dumps_line(result.to_dict()))
            self._file.flush()
        except OSError as exc:
            raise write_error(exc, "results", self.path) from exc


@dataclass
class DetectFolderSummary:
    model: str
    target: str
    total: int
    detected: int
    skipped_non_images: int
    failed: int
    resumed: int
    detections: int
    seconds: float
    images_per_s: float
    batch: int
    workers: int
    threads: int | None
    draft: bool
    output: str | None
    peak_rss_mb: float
    providers: list[str]
    placement: str
    head: str
    warnings: list[str] = field(default_factory=list)
    num_classes: int = 0
    ids: str = "index"  # the head's class ids (Head.ids)
    notes: list[str] = field(default_factory=list)  # the detector's (Detector.notes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def prepare_image(detector: Detector, path: Path, draft: bool) -> tuple[np.ndarray, Placement] | str:
    """An image as the detector's input and where it went in it, or why it could not be read."""
    try:
        img, scale = detector.load(path, draft)
        return detector.tensor(img, scale)
    except OnnpuError as exc:
        return str(exc)


def _record(model: str | Path, detector: Detector, labels: str | None, draft: bool, target: Target,
            thresholds: Mapping[str, float]) -> dict[str, Any]:
    return {"model": str(Path(model).resolve()), "model_sha256": sha256_file(model),
            "labels": sha256_file(labels) if labels else "built-in", "preprocess": detector.preprocess.to_dict(),
            "draft": draft, "target": target.describe(),
            "decoding": {"head": detector.head.kind, **thresholds}}


def detect_folder(sources: Sequence[str | Path], model: str | Path, target: Target, *,
                  output: str | Path | None = None, resume: bool = False, batch: int = 1, workers: int | None = None,
                  threads: int | None = None, draft: bool = True, head: str | None = None, labels: str | None = None,
                  conf: float = 0.25, iou: float = 0.45, max_det: int = 300,
                  preprocess: DetectPreprocess | None = None, cache: bool = True,
                  dims: Mapping[str, int] | None = None,
                  on_result: Callable[[ImageDetections], None] | None = None) -> DetectFolderSummary:
    """Detect objects in every image under ``sources``; each image's result streams to ``output`` (JSONL) and
    ``on_result`` as it comes, in input order; unreadable images are rows that say why."""
    require_inference(target, "detect")
    images, others = collect_images(sources)
    if not images and not others:
        raise InputDataError(f"{', '.join(map(str, sources))}: no images found (an empty folder)",
                             hint="pass image files (JPEG, PNG, WebP, BMP …) or folders that hold them")
    read: list[str | Path] = [*model_files(model), *([labels] if labels else []), *images]
    if output:
        check_destination(output, inputs=read, what="results")
    detector = open_detector(model, target, head=head, preprocess=preprocess, dims=dims, batch=batch, cache=cache,
                             threads=threads, config={"session.intra_op.allow_spinning": "0"})
    if batch > 1 and detector.batch_fixed != batch:
        raise InputDataError(f"{model}: --batch {batch} but the model's batch dim is fixed at {detector.batch_fixed}",
                             hint=f"use --batch {detector.batch_fixed} (or leave it out), or a model with a dynamic "
                                  "batch dim")
    batch = detector.batch_fixed or 1
    for note in detector.notes:  # the size used, a placeholder input: said once, before the rows
        progress.note(note)
    names = detection_labels(labels, detector.head.num_classes, detector.loaded.proto, detector.head.ids)
    guessed = assumed_labels(labels, detector.head, detector.loaded.proto)
    if guessed:
        detector.notes.append(guessed)
        progress.note(guessed)
    thresholds = {"conf": conf, "iou": iou, "max_det": max_det}
    writer = DetectionWriter(Path(output), 0, resume, _record(model, detector, labels, draft, target, thresholds),
                             inputs=read) if output else None
    done_before = writer.done if writer else set()
    todo = [p for p in images if str(p) not in done_before]
    pool_size = workers or max(1, min(4, os.cpu_count() or 1))
    counts = {"ok": 0, "failed": 0, "boxes": 0}
    warnings = [f"skipped {len(others)} non-image file{'s' if len(others) != 1 else ''}"] if others else []
    for warning in warnings:
        progress.warn(warning)
    start = time.perf_counter()

    def emit(result: ImageDetections) -> None:
        if result.error is None:
            counts["ok"] += 1
            counts["boxes"] += len(result.boxes)
        else:
            counts["failed"] += 1
        if writer:
            writer.write_image(result)
        if on_result:
            on_result(result)
        progress.advance("detecting", counts["ok"] + counts["failed"], len(todo))

    buffer: np.ndarray | None = None

    def flush(group: list[tuple[Path, np.ndarray, Placement]]) -> None:
        nonlocal buffer
        if not group:
            return
        if buffer is None:
            buffer = np.empty((batch, *group[0][1].shape[1:]), group[0][1].dtype)  # reused across batches
        for k, (_, tensor, _) in enumerate(group):
            buffer[k] = tensor[0]
        rows = len(group)
        if rows < batch:
            buffer[rows:] = buffer[rows - 1]  # the session's batch is fixed: pad, then drop the padding
        t0 = time.perf_counter()
        outputs = detector.run(buffer)
        for k, (image, _, placement) in enumerate(group):
            found = detector.detections(outputs, placement, k, conf=conf, iou=iou, max_det=max_det)
            latency = (time.perf_counter() - t0) * 1000 / rows
            emit(ImageDetections(str(image), placement.width, placement.height, boxes_of(found, names), latency))

    try:
        with ThreadPoolExecutor(pool_size, thread_name_prefix="onnpu-decode") as pool:
            jobs = ((lambda p=p: (p, prepare_image(detector, p, draft))) for p in todo)
            group: list[tuple[Path, np.ndarray, Placement]] = []
            for image, prepared in _ordered(pool, jobs, window=max(2 * pool_size, 2 * batch)):
                if isinstance(prepared, str):
                    flush(group)
                    group = []
                    emit(ImageDetections(str(image), error=prepared))
                    continue
                group.append((image, *prepared))
                if len(group) >= batch:
                    flush(group)
                    group = []
            flush(group)
    finally:
        if writer:
            writer.close()
    seconds = time.perf_counter() - start
    processed = counts["ok"] + counts["failed"]
    if counts["failed"]:
        warnings.append(f"{counts['failed']} image{'s' if counts['failed'] != 1 else ''} could not be read")
        progress.warn(warnings[-1])
    loaded = detector.loaded
    return DetectFolderSummary(str(model), target.describe(), len(images) + len(others), counts["ok"], len(others),
                               counts["failed"], len(images) - len(todo), counts["boxes"], seconds,
                               processed / seconds if seconds else 0.0, batch, pool_size, threads, draft,
                               str(output) if output else None, peak_rss_mb(), loaded.providers,
                               loaded.placement.headline() if loaded.placement else "not recorded",
                               detector.head.describe(), warnings, detector.head.num_classes,
                               detector.head.ids, detector.notes)
