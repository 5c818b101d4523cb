"""Folder-scale ``classify``: decode and preprocess in a pool of worker threads that overlaps inference
(bounded queue, results in input order), JPEGs decoded at reduced size, batched inference when the model
has a batch dim (a fixed batch is filled: the last, partial batch is padded and the padding dropped),
results streamed to CSV / JSONL as they come (``onnpu.vision.results``), ``--resume`` after an
interruption."""

from __future__ import annotations

import glob
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from onnpu import progress
from onnpu.errors import InputDataError, OnnpuError
from onnpu.guards import check_destination
from onnpu.machine import peak_rss_mb
from onnpu.metrics import top_k
from onnpu.model.exporter_metadata import class_names
from onnpu.model.files import model_files
from onnpu.model.inspection import TensorInfo, tensor_infos
from onnpu.runtime.context_cache import open_session
from onnpu.runtime.inputs.finite import first_non_finite
from onnpu.runtime.targets import Target, require_inference
from onnpu.storage import sha256_file
from onnpu.vision.classify import NAN_HINT, NAN_SCORES
from onnpu.vision.images import IMAGE_SUFFIXES, load_image
from onnpu.vision.labels import load_labels
from onnpu.vision.preprocess import (
    PreprocessConfig,
    draft_request,
    image_to_array,
    preprocess_for,
    target_size,
    unused_size,
)
from onnpu.vision.results import ResultWriter
from onnpu.vision.scores import ScoreReader, score_reader


@dataclass
class FolderSummary:
    model: str
    target: str
    total: int
    classified: int
    skipped_non_images: int
    failed: int
    resumed: int
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
    warnings: list[str] = field(default_factory=list)
    scores: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def collect_images(sources: Sequence[str | Path]) -> tuple[list[Path], list[Path]]:
    """Files, folders (recursive) and globs → (images sorted, non-image files skipped)."""
    found: set[Path] = set()
    for source in sources:
        text = str(source)
        path = Path(text)
        if path.is_dir():
            found.update(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            found.add(path)
        elif any(ch in text for ch in "*?["):
            found.update(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        else:
            raise InputDataError(f"{text}: no such file, folder or pattern", hint="check the path")
    ordered = sorted(found)
    images = [p for p in ordered if p.suffix.lower() in IMAGE_SUFFIXES]
    return images, [p for p in ordered if p.suffix.lower() not in IMAGE_SUFFIXES]


def _prepare(path: Path, info: TensorInfo, config: PreprocessConfig, size: tuple[int, int],
             draft: bool) -> np.ndarray | str:
    try:
        request = (lambda dims: draft_request(dims, size, config)) if draft else None
        return image_to_array(load_image(path, request), info, config)
    except OnnpuError as exc:
        return str(exc)


def _ordered(pool: ThreadPoolExecutor, jobs: Iterator[Callable[[], Any]], window: int) -> Iterator[Any]:
    """Results in submission order with at most ``window`` jobs in flight (bounded memory)."""
    pending: deque[Future[Any]] = deque()
    for job in jobs:
        pending.append(pool.submit(job))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _run_record(model: str | Path, reader: ScoreReader, top: int, labels: str | Path | None,
                config: PreprocessConfig, draft: bool, target: Target) -> dict[str, Any]:
    """What a results file's numbers depend on, recorded beside it and checked on ``--resume``."""
    return {"model": str(Path(model).resolve()), "model_sha256": sha256_file(model), "output": reader.output.name,
            "scores": f"{reader.kind}, softmax {'applied' if reader.apply_softmax else 'not applied'}", "top": top,
            "labels": sha256_file(labels) if labels else "built-in", "preprocess": config.to_dict(),
            "draft": draft, "target": target.describe()}


def _batch_size(model: str | Path, info: TensorInfo, batch: int) -> int:
    """Images per inference: ``batch`` for a dynamic batch dim; a fixed batch dim > 1 is used as it is."""
    fixed = info.shape[0] if info.shape and isinstance(info.shape[0], int) else None
    if fixed is None or batch == fixed:
        return batch
    if fixed > 1 and batch == 1:
        return fixed
    raise InputDataError(f"{model}: --batch {batch} but the model's batch dim is fixed at {fixed}",
                         hint=f"use --batch {fixed} (or leave it out), or a model with a dynamic batch dim")


def classify_folder(sources: Sequence[str | Path], model: str | Path, target: Target, *,
                    output: str | Path | None = None, resume: bool = False, top: int = 5, batch: int = 1,
                    workers: int | None = None, threads: int | None = None, draft: bool = True,
                    preprocess: PreprocessConfig | None = None, labels: str | Path | None = None,
                    softmax_mode: bool | None = None, output_name: str | None = None, cache: bool = True,
                    dims: Mapping[str, int] | None = None,
                    on_result: Callable[[str, list[tuple[int, str, float]] | None, str | None], None] | None = None
                    ) -> FolderSummary:
    """Classify every image under ``sources``; results stream to ``output`` (and ``on_result``); images done are
    reported to ``onnpu.progress`` (stage ``classifying``), skipped files and unreadable images as warnings."""
    require_inference(target, "classify")
    images, others = collect_images(sources)
    read = [*model_files(model), *([labels] if labels else []), *images]  # results never replace an input
    if output:
        check_destination(output, inputs=read, what="results")  # before any work
    # ONNX Runtime's intra-op threads spin while they wait; here the decode threads need those cores
    loaded = open_session(model, target, threads=threads, cache=cache, dims=dims,
                          config={"session.intra_op.allow_spinning": "0"})
    inputs, outputs = tensor_infos(loaded.proto)
    inputs = [i.with_dims(dims) for i in inputs]
    if len(inputs) != 1:
        raise InputDataError(f"{model}: classify needs a model with one image input", hint="use `onnpu run`")
    info = inputs[0]
    reader = score_reader(loaded.proto, outputs, output=output_name, use_softmax=softmax_mode, model=str(model))
    out_name = reader.output.name
    batch = _batch_size(model, info, batch)
    fixed_batch = bool(info.shape) and isinstance(info.shape[0], int)
    per_image = TensorInfo(info.name, info.elem_type, [1, *info.shape[1:]], info.quant)
    config = preprocess_for(loaded.proto, preprocess, str(model))
    size = target_size(per_image, config)
    writer = ResultWriter(Path(output), top, resume, _run_record(model, reader, top, labels, config, draft, target),
                          inputs=read) if output else None
    done_before = writer.done if writer else set()
    todo = [p for p in images if str(p) not in done_before]
    pool_size = workers or max(1, min(4, os.cpu_count() or 1))
    names: list[str] | None = None
    buffer: np.ndarray | None = None
    counts = {"ok": 0, "failed": 0, "nan": 0}
    warnings = [f"skipped {len(others)} non-image file{'s' if len(others) != 1 else ''}"] if others else []
    unused = unused_size(tensor_infos(loaded.proto)[0][0], preprocess.size if preprocess else None, model)
    warnings += [unused] if unused else []
    for warning in warnings:
        progress.warn(warning)
    start = time.perf_counter()

    def emit(image: Path, scores: np.ndarray | None, error: str | None) -> None:
        nonlocal names
        result = None
        if scores is not None and first_non_finite({"scores": [scores]}) is not None:
            scores, error = None, NAN_SCORES
            counts["nan"] += 1
        if scores is not None:
            if names is None:
                names = load_labels(labels, scores.shape[-1], class_names(loaded.proto))
            order = top_k(scores, top)
            result = [(int(i), names[i], float(scores[i])) for i in order]
            counts["ok"] += 1
        else:
            counts["failed"] += 1
        if writer:
            writer.write(str(image), result, error)
        if on_result:
            on_result(str(image), result, error)
        progress.advance("classifying", counts["ok"] + counts["failed"], len(todo))

    def flush(group: list[tuple[Path, np.ndarray]]) -> None:
        nonlocal buffer
        if not group:
            return
        if batch > 1:
            if buffer is None:
                buffer = np.empty((batch, *group[0][1].shape[1:]), group[0][1].dtype)  # reused across batches
            for k, (_, tensor) in enumerate(group):
                buffer[k] = tensor[0]
            rows = len(group)
            if fixed_batch and rows < batch:
                buffer[rows:] = buffer[rows - 1]  # the model takes only full batches: pad, then drop the padding
            feed = buffer if fixed_batch else buffer[:rows]
            scores = reader.rows(loaded.run({info.name: feed}, [out_name])[0])[:rows]
        else:
            scores = reader.rows(loaded.run({info.name: group[0][1]}, [out_name])[0])[:1]
        for (image, _), row in zip(group, scores, strict=True):
            emit(image, row, None)

    try:
        with ThreadPoolExecutor(pool_size, thread_name_prefix="onnpu-decode") as pool:
            jobs = ((lambda p=p: (p, _prepare(p, per_image, config, size, draft))) for p in todo)
            group: list[tuple[Path, np.ndarray]] = []
            for image, prepared in _ordered(pool, jobs, window=max(2 * pool_size, 2 * batch)):
                if isinstance(prepared, str):
                    flush(group)
                    group = []
                    emit(image, None, prepared)
                    continue
                group.append((image, prepared))
                if len(group) >= batch:
                    flush(group)
                    group = []
            flush(group)
    finally:
        if writer:
            writer.close()
    seconds = time.perf_counter() - start
    processed = counts["ok"] + counts["failed"]
    unread, nan = counts["failed"] - counts["nan"], counts["nan"]
    said = [f"{unread} image{'s' if unread != 1 else ''} could not be read"] if unread else []
    said += [f"the model's scores held NaN/Inf on {nan} image{'s' if nan != 1 else ''}: {NAN_HINT}"] if nan else []
    for warning in said:
        warnings.append(warning)
        progress.warn(warning)
    return FolderSummary(str(model), target.describe(), len(images) + len(others), counts["ok"], len(others),
                         counts["failed"], len(images) - len(todo), seconds, processed / seconds if seconds else 0.0,
                         batch, pool_size, threads, draft, str(output) if output else None,
                         peak_rss_mb(), loaded.providers,
                         loaded.placement.headline() if loaded.placement else "not recorded", warnings,
                         reader.describe())
