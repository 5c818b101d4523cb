"""``onnpu eval``: accuracy of models on labelled images, per model × target, with the float model beside
the quantized ones. The driver checks the models and the data, opens every session once (an NPU context is
compiled here, once, into onnpu's cache), then an engine runs the images: this process, the machine's cores
(processes) or a Ray cluster. The records are put back in image order, so every engine gives the same
result."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from onnpu import progress
from onnpu.errors import InputDataError, ModelError
from onnpu.evaluation.dataset import match_labels, read_labelled
from onnpu.evaluation.local import Arrivals, run_in_process, run_processes
from onnpu.evaluation.result import EvalResult, summarise
from onnpu.evaluation.worker import EvalSpec, Evaluator, ItemRecord, RowSpec
from onnpu.model.files import read_model
from onnpu.model.graphs import op_histogram
from onnpu.model.inspection import quantization_style
from onnpu.runtime.targets import Target, get_target, require_inference
from onnpu.vision.labels import load_labels
from onnpu.vision.preprocess import PreprocessConfig


def is_float_model(model: str | Path) -> bool:
    """No QuantizeLinear / DequantizeLinear and no QOperator op: the float model quantized ones come from."""
    path = Path(model)
    if path.is_dir():  # an `onnpu compile` folder holds a compiled (quantized) model
        return False
    proto = read_model(path, load_external_data=False)
    return quantization_style(op_histogram(proto)) == "float"


def plan_rows(models: Sequence[str | Path], targets: Sequence[Target]) -> tuple[list[RowSpec], list[str]]:
    """Float models run on the CPU (the reference: the NPU takes quantized models); quantized ones on every
    target. The reference row is the first float model's, else the first row."""
    if not models:
        raise ModelError("no model given", hint="onnpu eval MODEL... --data DATA")
    cpu = get_target("cpu")
    rows: list[RowSpec] = []
    notes: list[str] = []
    for model in models:
        if not Path(model).exists():
            raise ModelError(f"{model}: no such model file", hint="check the path")
        if is_float_model(model):
            if any(t.name != "cpu" for t in targets):
                notes.append(f"{Path(model).name} is a float model: it runs on the CPU, as the reference")
            rows.append(RowSpec(str(model), cpu, reference=not any(r.reference for r in rows)))
        else:
            rows += [RowSpec(str(model), t) for t in targets]
    if not any(r.reference for r in rows):
        first = rows[0]
        rows[0] = RowSpec(first.model, first.target, reference=True)
        notes.append(f"no float model given: differences are measured against {first.label}")
    seen = set()
    for row in rows:
        if (row.model, row.target) in seen:
            raise ModelError(f"{row.label} is listed twice", hint="give each model once")
        seen.add((row.model, row.target))
    return rows, notes


def _class_count(evaluator: Evaluator) -> int:
    counts = {row.label: evaluator.classes(k) for k, row in enumerate(evaluator.spec.rows)}
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"{label}: {n}" for label, n in counts.items())
        raise InputDataError(f"the models score different numbers of classes ({listed})",
                             hint="evaluate models of one classifier (a float model and its quantized copies)")
    return next(iter(counts.values()))


def evaluate(models: Sequence[str | Path], data: str | Path, targets: Sequence[Target], *,
             labels: str | Path | None = None, preprocess: PreprocessConfig | None = None,
             dims: Mapping[str, int] | None = None, output_name: str | None = None, cache: bool = True,
             workers: int | None = None, ray: str | None = None) -> EvalResult:
    """Top-1 / top-5 of every model × target on the labelled images ``data`` (an ImageFolder tree or a
    CSV / JSONL list). ``workers``: processes on this machine (default: one per core; 1 runs in this
    process); ``ray``: ``auto`` or a cluster address, to run the images as a Ray Data job instead."""
    for target in targets:
        require_inference(target, "eval")
    found = read_labelled(data)  # before any session: a wrong path costs nothing
    rows, notes = plan_rows(models, targets)
    spec = EvalSpec(tuple(rows), preprocess, tuple(sorted((dims or {}).items())), output_name, cache)
    start = time.perf_counter()
    evaluator = Evaluator(spec)  # every session once here: NPU contexts are compiled (and cached) now
    classes = _class_count(evaluator)
    names = load_labels(labels, classes)
    matched = match_labels(found, names)
    if not matched.images:
        raise InputDataError(f"{data}: none of the labels matches a class of the model",
                             hint="name class folders (or labels) as the model's labels, or by class number; "
                                  "give the model's labels file with --labels")
    items = list(enumerate(matched.images))
    engine: dict[str, Any]
    arrivals = Arrivals()
    if ray:
        from onnpu.evaluation.ray_job import run_ray

        records, engine = run_ray(spec, items, ray, arrivals)
    else:
        count = workers or os.cpu_count() or 1
        count = max(1, min(count, len(items)))
        records = run_in_process(evaluator, items, arrivals) if count == 1 else \
            run_processes(spec, items, count, arrivals)
        engine = {"engine": "processes" if count > 1 else "in-process", "workers": count}
    engine.update(arrivals.to_dict())
    records = _in_order(records, len(items))
    unreadable = [{"image": matched.images[r.index], "error": r.error} for r in records if r.error]
    for entry in unreadable:
        progress.warn(entry["error"] or "")
    skipped = dict(matched.skipped)
    if unreadable:
        skipped["unreadable image"] = len(unreadable)
    result_rows, changed = summarise(rows, evaluator.describe(), records, matched.labels, matched.images, names)
    return EvalResult(str(data), found.kind, classes, result_rows, changed, len(items),
                      len(items) - len(unreadable), skipped, matched.unmatched, unreadable, engine,
                      time.perf_counter() - start, notes)


def _in_order(records: Sequence[ItemRecord], count: int) -> list[ItemRecord]:
    """One record per image, in image order: a record delivered twice (a retried task) counts once, and a
    missing one is an error, never a silent gap."""
    by_index: dict[int, ItemRecord] = {}
    for record in records:
        by_index.setdefault(record.index, record)
    missing = [i for i in range(count) if i not in by_index]
    if missing:
        raise InputDataError(f"{len(missing)} image(s) came back from no worker (first: #{missing[0]})",
                             hint="run again; if it repeats, run without --ray to see the image's error")
    return [by_index[i] for i in range(count)]
