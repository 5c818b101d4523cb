"""``bench``: honest latency of one or more (model, target) pairs measured interleaved on the same inputs,
session start-up cold and from the context cache, memory, and output drift against a reference."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from onnpu import progress
from onnpu.errors import InputDataError, OnnpuError
from onnpu.machine import machine_info, peak_rss_mb, rss_mb
from onnpu.measure.compare import step_args
from onnpu.metrics import OutputQuality, compare_outputs
from onnpu.model.inspection import tensor_infos
from onnpu.runtime.compiled import model_for_target
from onnpu.runtime.context_cache import cached_session
from onnpu.runtime.feeds import (
    align_by_position,
    float_outputs,
    pair_outputs,
    prepare_feeds,
    run_feeds,
)
from onnpu.runtime.inputs import check_finite, random_feeds
from onnpu.runtime.session import LoadedSession, create_session
from onnpu.runtime.targets import CPU, Target, get_target, require_inference


@dataclass
class LatencyStats:
    samples: int
    mean: float
    std: float
    min: float
    p50: float
    p90: float
    p95: float
    p99: float
    max: float
    throughput: float  # inferences per second, from the mean

    @classmethod
    def of(cls, ms: Sequence[float]) -> LatencyStats:
        a = np.asarray(ms, np.float64)
        p = np.percentile(a, [50, 90, 95, 99])
        return cls(len(a), float(a.mean()), float(a.std()), float(a.min()), float(p[0]), float(p[1]), float(p[2]),
                   float(p[3]), float(a.max()), float(1000 / a.mean()) if a.mean() > 0 else float("inf"))


@dataclass
class TargetBench:
    """One (model, target) cell. A cell that cannot run (e.g. a float model on an HTP that computes no float,
    CPU fallback disabled) has ``error`` (and ``hint``) and no numbers; the other cells run."""

    label: str
    model: str
    target: str
    session_cold_s: float | None
    first_run_ms: float | None
    stats: LatencyStats | None
    latencies_ms: list[float]
    rss_after_session_mb: float | None
    placement: str
    providers: list[str]
    session_cached_s: float | None = None
    cache: str | None = None  # hit / built / rebuilt / compiled model / off
    starts_ms: list[float] = field(default_factory=list)  # when each timed run started, since the first round
    error: str | None = None
    hint: str | None = None
    exit_code: int = 0  # the failed cell's error's exit code (refused, error)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("exit_code")
        out["stats"] = asdict(self.stats) if self.stats else None
        return out


@dataclass
class Drift:
    label: str
    reference: str
    outputs: list[OutputQuality]

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "reference": self.reference, "outputs": [o.to_dict() for o in self.outputs]}


@dataclass
class BenchResult:
    runs: list[TargetBench]
    drift: list[Drift]
    iterations: int
    warmup: int
    machine: dict[str, Any]
    threads: str
    input_source: str
    duration_s: float
    peak_rss_mb: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[TargetBench]:
        """The cells that could not run."""
        return [r for r in self.runs if r.error]

    def to_dict(self) -> dict[str, Any]:
        return {"schema": "onnpu.bench/1", "runs": [r.to_dict() for r in self.runs],
                "drift": [d.to_dict() for d in self.drift], "iterations": self.iterations, "warmup": self.warmup,
                "machine": self.machine, "threads": self.threads, "input_source": self.input_source,
                "duration_s": self.duration_s, "peak_rss_mb": self.peak_rss_mb, "interleaved": True,
                "notes": self.notes}


def _open(model: Path, target: Target, dims: Mapping[str, int] | None, threads: int | None,
          cache: bool) -> tuple[LoadedSession, float, float | None, str]:
    """Session creation cold (no cache) and, on a QNN target, from the context cache (built first if
    missing). A compiled model (or compile folder) is loaded as it is: its load time is the cold time.
    Returns the session to measure with, cold seconds, cached seconds, cache state."""
    compiled = proto = None
    if target.is_qnn:
        model, proto, compiled = model_for_target(model, target)
    cold = create_session(model, target, dims=dims, threads=threads, checked=proto)
    cold_s = cold.create_seconds
    if compiled is not None:
        return cold, cold_s, None, "compiled model"
    if not (cache and target.is_qnn):
        return cold, cold_s, None, "off"
    del cold
    loaded, state = cached_session(model, target, dims=dims, threads=threads, checked=proto)
    if state != "hit":  # this bench compiled the cache: load it once more to time a real cache hit
        del loaded
        loaded, _ = cached_session(model, target, dims=dims, threads=threads, checked=proto)
    return loaded, cold_s, loaded.create_seconds, state


@dataclass
class _Cell:
    """One (model, target) pair while it is measured."""

    path: Path
    target: Target
    label: str
    loaded: LoadedSession | None = None
    cold_s: float | None = None
    cached_s: float | None = None
    state: str | None = None
    rss: float | None = None
    feed: dict[str, np.ndarray] = field(default_factory=dict)
    first_ms: float | None = None
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    samples: list[float] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    error: OnnpuError | None = None
    own_data: bool = False  # random inputs of its own: the shared ones do not fit it (no drift then)

    def result(self) -> TargetBench:
        if self.error is not None or self.loaded is None:
            error = self.error or OnnpuError("the session was not created")
            return TargetBench(self.label, str(self.path), self.target.describe(), None, None, None, [], None,
                               "did not run", [], error=str(error), hint=error.hint, exit_code=int(error.exit_code))
        placement = self.loaded.placement.headline() if self.loaded.placement else "not recorded"
        return TargetBench(self.label, str(self.path), self.target.describe(), self.cold_s, self.first_ms,
                           LatencyStats.of(self.samples), self.samples, self.rss, placement, self.loaded.providers,
                           self.cached_s, self.state, starts_ms=self.starts)


def benchmark(runs: Sequence[tuple[str | Path, Target]], *, iterations: int = 10, duration: float | None = None,
              warmup: int = 2, inputs: Mapping[str, np.ndarray] | None = None, seed: int = 0,
              reference: str | Path | None = None, dims: Mapping[str, int] | None = None,
              threads: int | None = None, cache: bool = True) -> BenchResult:
    """Measure every (model, target) pair on the same inputs, interleaved round by round (the order rotated each
    round). A pair that cannot run (its session refused, its first run failed) is reported with its error and
    the others are measured; when none can run, the first pair's error is raised."""
    for _, target in runs:
        require_inference(target, "bench")
    start_all = time.perf_counter()
    cells = [_Cell(Path(model), target, f"{Path(model).name} @ {target.name}") for model, target in runs]
    for cell in cells:
        try:
            cell.loaded, cell.cold_s, cell.cached_s, cell.state = _open(cell.path, cell.target, dims, threads, cache)
        except OnnpuError as exc:  # reported in the cell's row
            cell.error = exc
        cell.rss = rss_mb()
    ready = [c for c in cells if c.loaded is not None]
    data: dict[str, np.ndarray] = dict(inputs) if inputs is not None else {}
    for cell in ready if inputs is None else []:  # random data for the first model it can be made for
        assert cell.loaded is not None
        try:
            data = random_feeds(cell.loaded.proto, 1, seed, dims, infos=tensor_infos(cell.loaded.proto)[0])[0]
            break
        except OnnpuError as exc:  # its row says why, naming the model
            if not exc.message.startswith(str(cell.path)):
                exc.message = f"{cell.path}: {exc.message}"
            cell.error, cell.loaded = exc, None
    source = next((c for c in ready if c.loaded is not None), None)
    notes: list[str] = []
    for cell in [c for c in ready if c.loaded is not None]:
        assert cell.loaded is not None
        infos = tensor_infos(cell.loaded.proto)[0]
        try:
            try:
                cell.feed = prepare_feeds(infos, align_by_position(data, [i.name for i in infos]), str(cell.path),
                                          dims)[0]
            except InputDataError as exc:  # another model's random data does not fit: this one gets its own
                if inputs is not None or source is None:
                    raise
                own = random_feeds(cell.loaded.proto, 1, seed, dims, infos=infos)[0]
                cell.feed, cell.own_data = prepare_feeds(infos, own, str(cell.path), dims)[0], True
                if not any(n.startswith(f"{cell.path.name}: ") for n in notes):
                    why = exc.message.removeprefix(f"{cell.path}: ")
                    notes.append(f"{cell.path.name}: fed random inputs of its own (seed {seed}): {source.path.name}'s "
                                 f"do not fit it ({why}); no drift is measured for it")
            t0 = time.perf_counter()
            values = cell.loaded.run(cell.feed)
            cell.first_ms = (time.perf_counter() - t0) * 1000
            cell.outputs = float_outputs(cell.loaded, values)
            for _ in range(warmup):
                cell.loaded.run(cell.feed)
        except OnnpuError as exc:
            cell.error, cell.loaded = exc, None
    ready = [c for c in cells if c.loaded is not None]
    if not ready:
        assert cells[0].error is not None
        raise cells[0].error
    rounds = 0
    loop_start = time.perf_counter()
    while True:
        shift = rounds % len(ready)
        for cell in ready[shift:] + ready[:shift]:  # rotated: no fixed position bias
            t0 = time.perf_counter()
            cell.loaded.run(cell.feed)  # type: ignore[union-attr]
            t1 = time.perf_counter()
            cell.samples.append((t1 - t0) * 1000)
            cell.starts.append((t0 - loop_start) * 1000)
        rounds += 1
        progress.advance("measuring", rounds, None if duration is not None else iterations)
        if duration is not None:
            if time.perf_counter() - loop_start >= duration:
                break
        elif rounds >= iterations:
            break
    drift, drift_notes = _drift(reference, [c for c in ready if not c.own_data], data, dims)
    threads_text = f"intra-op threads {threads}" if threads else f"ONNX Runtime default ({os.cpu_count()} CPUs)"
    return BenchResult([c.result() for c in cells], drift, rounds, warmup, machine_info(), threads_text,
                       "given inputs" if inputs is not None else f"random, seed {seed}",
                       time.perf_counter() - start_all, peak_rss_mb(), notes + drift_notes)


def _drift(reference: str | Path | None, cells: list[_Cell], data: Mapping[str, np.ndarray],
           dims: Mapping[str, int] | None) -> tuple[list[Drift], list[str]]:
    if not cells:
        return [], []
    if reference is not None:
        ref_session = create_session(reference, get_target("cpu"), dims=dims)
        ran = run_feeds(ref_session, [data], model=str(reference), dims=dims)
        check_finite(ran, model=f"{reference} (the reference)")  # drift against NaN would be a number of nothing
        ref_out = {k: v[0] for k, v in ran.items()}
        ref_label = f"{Path(reference).name} @ cpu"
        others = cells
    else:
        base = next((c for c in cells if c.target.provider == CPU), cells[0])
        ref_out, ref_label = base.outputs, base.label
        others = [c for c in cells if c is not base]
    drift, notes = [], []
    for cell in others:
        assert cell.loaded is not None
        steps = {o.name: o for o in tensor_infos(cell.loaded.proto)[1]}
        qualities = []
        for label, x, y in pair_outputs(ref_out, cell.outputs):
            if np.shape(ref_out[x]) != np.shape(cell.outputs[y]):  # other models, not copies of one
                notes.append(f"no drift for {cell.label} {label}: its shape {list(np.shape(cell.outputs[y]))} is "
                             f"not {ref_label}'s {list(np.shape(ref_out[x]))}")
                continue
            qualities.append(compare_outputs(label, [ref_out[x]], [cell.outputs[y]], **step_args(steps.get(y))))
        if qualities:
            drift.append(Drift(cell.label, ref_label, qualities))
    return drift, notes
