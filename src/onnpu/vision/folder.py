"""Folder-scale ``classify``: decode and preprocess in a pool of worker threads that overlaps inference
(bounded queue, results in input order), JPEGs decoded at reduced size, batched inference when the model
has a batch dim, results streamed to CSV / JSONL as they come, ``--resume`` after an interruption."""

from __future__ import annotations

import csv
import glob
import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from onnpu.errors import InputDataError, OnnpuError, OutputError
from onnpu.machine import peak_rss_mb
from onnpu.metrics import top_k
from onnpu.model.inspection import TensorInfo, tensor_infos
from onnpu.runtime.context_cache import open_session
from onnpu.runtime.targets import Target
from onnpu.vision.images import IMAGE_SUFFIXES, load_image
from onnpu.vision.labels import load_labels
from onnpu.vision.preprocess import PreprocessConfig, draft_request, image_to_array, preprocess_for, target_size
from onnpu.vision.scores import scores_from_output

Progress = Callable[[int, int], None]  # (done, total)


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


class ResultWriter:
    """Streams one row per image to CSV or JSONL, flushed as it goes; knows what an earlier run wrote."""

    def __init__(self, path: Path, top: int, resume: bool) -> None:
        if path.suffix.lower() not in (".csv", ".jsonl"):
            raise OutputError(f"{path}: results go to a .csv or .jsonl file", hint="e.g. -o results.csv")
        self.path, self.top = path, top
        self.jsonl = path.suffix.lower() == ".jsonl"
        self.done: set[str] = self._read_done() if resume and path.exists() else set()
        if not path.parent.is_dir():
            raise OutputError(f"{path}: the folder {path.parent} does not exist", hint="create it first")
        fresh = not (resume and path.exists())
        try:
            self._file: TextIO = path.open("w" if fresh else "a", newline="", encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"{path}: cannot write results ({exc.strerror})", hint="choose a writable -o") from exc
        self._csv = None if self.jsonl else csv.writer(self._file)
        if fresh and self._csv is not None:
            header = ["image", "status"]
            for k in range(1, top + 1):
                header += [f"top{k}_index", f"top{k}_label", f"top{k}_score"]
            self._csv.writerow(header)

    def _read_done(self) -> set[str]:
        done = set()
        with self.path.open(encoding="utf-8", newline="") as f:
            if self.jsonl:
                for line in f:
                    try:
                        done.add(json.loads(line)["image"])
                    except (ValueError, KeyError):
                        continue  # a line cut by the interruption: that image is classified again
            else:
                for row in csv.DictReader(f):
                    if row.get("image") and row.get("status"):
                        done.add(row["image"])
        return done

    def write(self, image: str, top: list[tuple[int, str, float]] | None, error: str | None = None) -> None:
        if self.jsonl:
            record: dict[str, Any] = {"image": image}
            if error:
                record["error"] = error
            else:
                record["top"] = [{"index": i, "label": label, "score": round(s, 6)} for i, label, s in top or []]
            self._file.write(json.dumps(record) + "\n")
        else:
            assert self._csv is not None
            row: list[Any] = [image, "error: " + error if error else "ok"]
            for i, label, s in top or []:
                row += [i, label, f"{s:.6f}"]
            self._csv.writerow(row)
        self._file.flush()

    def close(self) -> None:
        self._file.close()


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


def classify_folder(sources: Sequence[str | Path], model: str | Path, target: Target, *,
                    output: str | Path | None = None, resume: bool = False, top: int = 5, batch: int = 1,
                    workers: int | None = None, threads: int | None = None, draft: bool = True,
                    preprocess: PreprocessConfig | None = None, labels: str | Path | None = None,
                    softmax_mode: bool | None = None, cache: bool = True,
                    on_result: Callable[[str, list[tuple[int, str, float]] | None, str | None], None] | None = None,
                    progress: Progress | None = None) -> FolderSummary:
    """Classify every image under ``sources``; results stream to ``output`` (and ``on_result``)."""
    images, others = collect_images(sources)
    writer = ResultWriter(Path(output), top, resume) if output else None
    done_before = writer.done if writer else set()
    todo = [p for p in images if str(p) not in done_before]
    # ONNX Runtime's intra-op threads spin while they wait; here the decode threads need those cores
    loaded = open_session(model, target, threads=threads, cache=cache,
                          config={"session.intra_op.allow_spinning": "0"})
    inputs, outputs = tensor_infos(loaded.proto)
    if len(inputs) != 1:
        raise InputDataError(f"{model}: classify needs a model with one image input", hint="use `onnpu run`")
    info, out_info = inputs[0], outputs[0]
    batch_dim = info.shape[0]
    if batch > 1 and isinstance(batch_dim, int) and batch_dim != batch:
        raise InputDataError(f"{model}: --batch {batch} but the model's batch dim is fixed at {batch_dim}",
                             hint="use --batch 1, or a model with a dynamic batch dim")
    per_image = TensorInfo(info.name, info.elem_type, [1, *info.shape[1:]], info.quant)
    config = preprocess_for(loaded.proto, preprocess)
    size = target_size(per_image, config)
    pool_size = workers or max(1, min(4, os.cpu_count() or 1))
    names: list[str] | None = None
    buffer: np.ndarray | None = None
    counts = {"ok": 0, "failed": 0}
    warnings = [f"skipped {len(others)} non-image file{'s' if len(others) != 1 else ''}"] if others else []
    start = time.perf_counter()

    def emit(image: Path, scores: np.ndarray | None, error: str | None) -> None:
        nonlocal names
        result = None
        if scores is not None:
            if names is None:
                names = load_labels(labels, scores.shape[-1])
            order = top_k(scores, top)
            result = [(int(i), names[i], float(scores[i])) for i in order]
            counts["ok"] += 1
        else:
            counts["failed"] += 1
        if writer:
            writer.write(str(image), result, error)
        if on_result:
            on_result(str(image), result, error)
        if progress:
            progress(counts["ok"] + counts["failed"], len(todo))

    def flush(group: list[tuple[Path, np.ndarray]]) -> None:
        nonlocal buffer
        if not group:
            return
        if batch > 1:
            shape = (len(group), *group[0][1].shape[1:])
            if buffer is None or buffer.shape[0] < len(group):
                buffer = np.empty((batch, *group[0][1].shape[1:]), group[0][1].dtype)  # reused across batches
            for k, (_, tensor) in enumerate(group):
                buffer[k] = tensor[0]
            raw = loaded.run({info.name: buffer[: shape[0]]}, [out_info.name])[0]
            rows = [raw[k:k + 1] for k in range(len(group))]
        else:
            rows = [loaded.run({info.name: group[0][1]}, [out_info.name])[0]]
        for (image, _), row in zip(group, rows, strict=True):
            scores, _, _ = scores_from_output(np.asarray(row), out_info, softmax_mode)
            emit(image, scores, None)

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
    if counts["failed"]:
        warnings.append(f"{counts['failed']} image{'s' if counts['failed'] != 1 else ''} could not be read")
    return FolderSummary(str(model), target.describe(), len(images) + len(others), counts["ok"], len(others),
                         counts["failed"], len(images) - len(todo), seconds, processed / seconds if seconds else 0.0,
                         batch, pool_size, threads, draft, str(output) if output else None,
                         peak_rss_mb(), loaded.providers,
                         loaded.placement.headline() if loaded.placement else "not recorded", warnings)
