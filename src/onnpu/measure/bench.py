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

from onnpu.machine import machine_info, peak_rss_mb, rss_mb
from onnpu.metrics import OutputQuality, compare_outputs
from onnpu.model.inspection import tensor_infos
from onnpu.runtime.compiled import model_for_target
from onnpu.runtime.context_cache import cached_session
from onnpu.runtime.feeds import (
    align_by_position,
    float_outputs,
    float_view,
    pair_outputs,
    prepare_feeds,
    random_inputs,
    run_feeds,
)
from onnpu.runtime.session import LoadedSession, create_session
from onnpu.runtime.targets import Target, get_target, require_inference


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
    label: str
    model: str
    target: str
    session_cold_s: float
    first_run_ms: float
    stats: LatencyStats
    latencies_ms: list[float]
    rss_after_session_mb: float
    placement: str
    providers: list[str]
    session_cached_s: float | None = None
    cache: str | None = None  # hit / built / rebuilt / off

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["stats"] = asdict(self.stats)
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

    def ratio(self, a: str, b: str) -> float:
        """p50 of run ``a`` over p50 of run ``b`` (labels)."""
        runs = {r.label: r for r in self.runs}
        return runs[a].stats.p50 / runs[b].stats.p50

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


def benchmark(runs: Sequence[tuple[str | Path, Target]], *, iterations: int = 10, duration: float | None = None,
              warmup: int = 2, inputs: Mapping[str, np.ndarray] | None = None, seed: int = 0,
              reference: str | Path | None = None, dims: Mapping[str, int] | None = None,
              threads: int | None = None, cache: bool = True) -> BenchResult:
    """Measure every (model, target) pair on the same inputs, interleaved round by round."""
    for _, target in runs:
        require_inference(target, "bench")
    start_all = time.perf_counter()
    opened = []
    for model, target in runs:
        path = Path(model)
        loaded, cold_s, cached_s, state = _open(path, target, dims, threads, cache)
        opened.append((path, target, loaded, cold_s, cached_s, state, rss_mb()))
    first_infos = tensor_infos(opened[0][2].proto)[0]
    data = dict(inputs) if inputs is not None else \
        random_inputs([float_view(i) for i in first_infos], seed, dims)
    feeds = []
    for path, _, loaded, *_ in opened:
        infos = tensor_infos(loaded.proto)[0]
        feeds.append(prepare_feeds(infos, align_by_position(data, [i.name for i in infos]), str(path), dims)[0])
    labels = [f"{p.name} @ {t.name}" for p, t, *_ in opened]
    first, outputs = [], []
    for (_, _, loaded, *_), feed in zip(opened, feeds, strict=True):
        t0 = time.perf_counter()
        values = loaded.run(feed)
        first.append((time.perf_counter() - t0) * 1000)
        outputs.append(float_outputs(loaded, values))
        for _ in range(warmup):
            loaded.run(feed)
    samples: list[list[float]] = [[] for _ in opened]
    rounds = 0
    loop_start = time.perf_counter()
    while True:
        order = list(range(len(opened)))
        order = order[rounds % len(order):] + order[: rounds % len(order)]  # rotate: no fixed position bias
        for i in order:
            t0 = time.perf_counter()
            opened[i][2].run(feeds[i])
            samples[i].append((time.perf_counter() - t0) * 1000)
        rounds += 1
        if duration is not None:
            if time.perf_counter() - loop_start >= duration:
                break
        elif rounds >= iterations:
            break
    results = []
    for i, (path, target, loaded, cold_s, cached_s, state, rss) in enumerate(opened):
        placement = loaded.placement.headline() if loaded.placement else "not recorded"
        results.append(TargetBench(labels[i], str(path), target.describe(), cold_s, first[i],
                                   LatencyStats.of(samples[i]), samples[i], rss, placement, loaded.providers,
                                   cached_s, state))
    drift = _drift(reference, opened, outputs, labels, data, dims)
    threads_text = f"intra-op threads {threads}" if threads else f"ONNX Runtime default ({os.cpu_count()} CPUs)"
    return BenchResult(results, drift, rounds, warmup, machine_info(), threads_text,
                       "given inputs" if inputs is not None else f"random, seed {seed}",
                       time.perf_counter() - start_all, peak_rss_mb())


def _drift(reference: str | Path | None, opened: list[Any], outputs: list[dict[str, np.ndarray]], labels: list[str],
           data: Mapping[str, np.ndarray], dims: Mapping[str, int] | None) -> list[Drift]:
    if reference is not None:
        ref_session = create_session(reference, get_target("cpu"), dims=dims)
        ref_out = {k: v[0] for k, v in run_feeds(ref_session, [data], model=str(reference), dims=dims).items()}
        ref_label = f"{Path(reference).name} @ cpu"
        others = list(range(len(opened)))
    else:
        cpu = [i for i, o in enumerate(opened) if o[1].provider == "CPUExecutionProvider"]
        base = cpu[0] if cpu else 0
        ref_out, ref_label = outputs[base], labels[base]
        others = [i for i in range(len(opened)) if i != base]
    drift = []
    for i in others:
        qualities = [compare_outputs(label, [ref_out[x]], [outputs[i][y]])
                     for label, x, y in pair_outputs(ref_out, outputs[i])]
        drift.append(Drift(labels[i], ref_label, qualities))
    return drift
