"""``run``: feed a model real or generated inputs on a target and report what ran where."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from onnpu.model.inspection import tensor_infos
from onnpu.runtime.context_cache import open_session
from onnpu.runtime.feeds import prepare_feeds, readable_output
from onnpu.runtime.inputs import describe_kinds, input_kinds, random_inputs
from onnpu.runtime.placement import PlacementSummary
from onnpu.runtime.session import LoadedSession
from onnpu.runtime.targets import Target, require_inference


@dataclass
class RunResult:
    model: str
    target: Target
    outputs: dict[str, np.ndarray]
    providers: list[str]
    placement: PlacementSummary | None
    session_seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "target": self.target.describe(), "providers": self.providers,
            "placement": self.placement.to_dict() if self.placement else None,
            "session_seconds": self.session_seconds, "latencies_ms": self.latencies_ms,
            "outputs": {k: {"shape": list(v.shape), "dtype": str(v.dtype),
                            **dict(zip(("min", "max", "mean"), output_stats(v) or (None, None, None), strict=True)),
                            **non_finite(v)}
                        for k, v in self.outputs.items()},
            "notes": self.notes,
        }


def non_finite(v: np.ndarray) -> dict[str, int]:
    """How many values are NaN, +Inf and -Inf (JSON writes a non-finite min or max as null, as an empty output's:
    these counts tell them apart)."""
    if not v.size or v.dtype.kind != "f":
        return {"nan": 0, "pos_inf": 0, "neg_inf": 0}
    return {"nan": int(np.isnan(v).sum()), "pos_inf": int(np.isposinf(v).sum()), "neg_inf": int(np.isneginf(v).sum())}


def output_stats(v: np.ndarray) -> tuple[float, float, float] | None:
    """min, max and mean of a numeric output (None: empty, or text); a NaN stays a float here (the JSON writer
    writes it as null, the table as nan)."""
    if not v.size or v.dtype.kind not in "biuf":
        return None
    return float(v.min()), float(v.max()), float(v.astype(np.float64).mean())


def run_model(model: str | Path, target: Target, *, inputs: Mapping[str, np.ndarray] | None = None,
              seed: int = 0, dims: Mapping[str, int] | None = None, iterations: int = 1,
              session: LoadedSession | None = None, cache: bool = False,
              input_ranges: Mapping[str, tuple[float, float]] | None = None) -> RunResult:
    """Run ``model`` once (or ``iterations`` times, for timing) on ``target``.

    Without ``inputs`` the inputs are random (seeded), each in the range of what it feeds (token ids inside their
    table, masks 0/1, ...; ``input_ranges`` NAME → (low, high) wins; an input given in ``inputs`` is kept).
    Float data for a quantized input is quantized with
    the model's own parameters. The result names the providers that really ran nodes. ``cache`` loads the
    compiled NPU context from the cache (building it on first use).
    """
    require_inference(target, "run")
    loaded = session or open_session(model, target, dims=dims, cache=cache)
    infos, _ = tensor_infos(loaded.proto)
    kinds = None
    if inputs is None or input_ranges:
        kinds = input_kinds(loaded.proto, infos=infos, overrides=input_ranges, dims=dims)
    given = dict(inputs or {})
    missing = [i for i in infos if i.name not in given]
    arrays = {**(random_inputs(missing, seed, dims, kinds=kinds) if missing and (inputs is None or input_ranges)
                 else {}), **given}
    feeds, notes = prepare_feeds(infos, arrays, str(model), dims)
    names = [o.name for o in loaded.session.get_outputs()]
    latencies = []
    values: list[Any] = []
    for _ in range(max(1, iterations)):
        start = time.perf_counter()
        values = loaded.run(feeds)  # raises InputDataError only when the inputs were the cause, else RunError
        latencies.append((time.perf_counter() - start) * 1000)
    if kinds is not None and missing:
        notes.insert(0, f"random inputs, seed {seed}: " + describe_kinds({i.name: kinds[i.name] for i in missing}))
    outputs = {}
    for name, value in zip(names, values, strict=False):
        outputs[name], read_as = readable_output(name, value)  # a ZipMap's sequence of maps: [rows, classes]
        notes += [read_as] if read_as else []
    return RunResult(str(loaded.model_path), target, outputs, loaded.providers,
                     loaded.placement, loaded.create_seconds, latencies, notes)
