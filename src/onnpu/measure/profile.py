"""``profile``: what each op costs. ONNX Runtime's profiler times the nodes it runs itself; inside a QNN
partition (one event for ORT) the QNN EP's ``detailed`` profile gives cycles per op. Both are parsed into
one table; the raw files stay next to the report. Nodes inside If/Loop/Scan bodies are rows of their own, with
their scope; the control-flow node's row keeps only its own time (its event includes its body's)."""

from __future__ import annotations

import csv
import gc
import json
import re
import shutil
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from onnpu.model.files import read_model, validate_model_file
from onnpu.model.graphs import CONTROL_FLOW, needs_unique_names, walk, with_unique_names
from onnpu.model.inspection import tensor_infos
from onnpu.runtime.feeds import prepare_feeds
from onnpu.runtime.inputs import random_feeds
from onnpu.runtime.placement import original_name
from onnpu.runtime.session import create_session
from onnpu.runtime.targets import QNN, Target, get_target
from onnpu.storage import output_dir

_OPID = re.compile(r"(?::OpId_\d+)?\s*\(cycles\)$")


@dataclass
class OpCost:
    name: str
    op_type: str
    provider: str
    time_us: float  # mean per inference; for NPU ops: the op's share of cycles × measured accelerator time
    cycles: float | None = None
    share: float = 0.0
    scope: str = ""  # inside a control-flow body: e.g. "If_0/then_branch"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ProfileResult:
    model: str
    target: str
    iterations: int
    wall_ms: list[float]
    rows: list[OpCost]
    raw_files: list[str]
    accelerator_us: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def rows_total_us(self) -> float:
        return float(sum(r.time_us for r in self.rows))

    @property
    def median_wall_ms(self) -> float:
        return float(np.median(self.wall_ms))

    def top(self, n: int) -> list[OpCost]:
        return sorted(self.rows, key=lambda r: r.time_us, reverse=True)[:n]

    def by_op_type(self) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for r in self.rows:
            totals[r.op_type] += r.time_us
        return dict(sorted(totals.items(), key=lambda kv: -kv[1]))

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "target": self.target, "iterations": self.iterations,
                "wall_ms": self.wall_ms, "median_wall_ms": self.median_wall_ms,
                "rows_total_us": self.rows_total_us, "accelerator_us": self.accelerator_us,
                "coverage": self.rows_total_us / 1000 / self.median_wall_ms if self.wall_ms else None,
                "by_op_type_us": self.by_op_type(), "rows": [r.to_dict() for r in self.rows],
                "raw_files": self.raw_files, "notes": self.notes}


def _parse_qnn_csv(path: Path, executions: int) -> tuple[dict[str, float], float | None, float | None]:
    """Mean cycles per QNN op over the last ``executions`` runs, mean accelerator cycles and µs per run."""
    runs: list[dict[str, float]] = []
    accel_cycles: list[float] = []
    accel_us: list[float] = []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            ident, unit, level = row["Event Identifier"], row["Unit of Measurement"], row["Event Level"]
            value = float(row["Time"] or 0)
            if level == "ROOT" and ident.startswith("Accelerator (execute) time"):
                if unit == "CYCLES":
                    accel_cycles.append(value)
                    runs.append({})
                elif unit == "US":
                    accel_us.append(value)
            elif row["Message"] == "NODE" and unit == "CYCLES" and runs:
                name = _OPID.sub("", ident).strip()
                runs[-1][name] = runs[-1].get(name, 0.0) + value
    runs, accel_cycles, accel_us = runs[-executions:], accel_cycles[-executions:], accel_us[-executions:]
    names = {n for r in runs for n in r}
    means = {n: float(np.mean([r.get(n, 0.0) for r in runs])) for n in names}
    return (means, float(np.mean(accel_cycles)) if accel_cycles else None,
            float(np.mean(accel_us)) if accel_us else None)


def _parse_ort_json(path: Path, skip_runs: int) -> dict[tuple[str, str, str], float]:
    """Mean µs per (node, op, provider) from ORT's profiler, skipping the first ``skip_runs`` model runs."""
    events = json.loads(path.read_text())
    runs: list[dict[tuple[str, str, str], float]] = []
    current: dict[tuple[str, str, str], float] = {}
    for e in sorted((e for e in events if e.get("ph") == "X"), key=lambda e: e["ts"]):
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            args = e.get("args", {})
            key = (e["name"][: -len("_kernel_time")], args.get("op_name", "?"), args.get("provider", "?"))
            current[key] = current.get(key, 0.0) + float(e["dur"])
        elif e.get("cat") == "Session" and e["name"] == "model_run":
            runs.append(current)
            current = {}
    runs = runs[skip_runs:]
    keys = {k for r in runs for k in r}
    return {k: float(np.mean([r.get(k, 0.0) for r in runs])) for k in keys}


def _own_time(rows: list[OpCost], notes: list[str]) -> None:
    """A control-flow node's event spans its body's nodes, which have rows of their own: keep its own time."""
    for row in rows:
        if row.op_type not in CONTROL_FLOW:
            continue
        prefix = f"{row.scope}/{row.name}/" if row.scope else f"{row.name}/"
        inner = [r for r in rows if r is not row and f"{r.scope}/".startswith(prefix)]
        if inner:
            body = sum(r.time_us for r in inner)
            row.time_us = max(0.0, row.time_us - body)
            notes.append(f"{row.op_type} {row.name}: {len(inner)} rows inside its bodies ({body:.0f} µs); its own row "
                         f"keeps the rest ({row.time_us:.0f} µs)")


def profile(model: str | Path, target: Target, *, iterations: int = 5, out_dir: str | Path | None = None,
            dims: Mapping[str, int] | None = None, seed: int = 0) -> ProfileResult:
    """Run ``iterations`` timed inferences (after one warm-up) with profiling on, and parse the costs."""
    src = Path(model)
    checked = validate_model_file(src)  # a missing or broken model leaves no folder behind
    wanted = Path(out_dir or f"onnpu-profile-{src.stem}")
    made = not wanted.exists()
    folder = output_dir(wanted, "profile", "--out")
    qnn_csv = folder / "qnn_profile.csv"
    if target.is_qnn:
        options = {**target.options_dict, "profiling_level": "detailed", "profiling_file_path": str(qnn_csv)}
        target = get_target(target.name, options, allow_fallback=target.allow_fallback)
    model_source: Path | onnx.ModelProto = src
    if needs_unique_names(checked):  # the profiler names nodes only by name
        model_source = with_unique_names(read_model(src))
    try:
        loaded = create_session(model_source, target, dims=dims, profile_prefix=str(folder / "ort_profile"),
                                label=src)
    except BaseException:
        if made:  # the session failed before profiling (ONNX Runtime leaves an empty trace): no folder left
            shutil.rmtree(folder, ignore_errors=True)
        raise
    inputs, _ = tensor_infos(loaded.proto)
    feeds, _ = prepare_feeds(inputs, random_feeds(loaded.proto, 1, seed, dims, infos=inputs)[0], str(src), dims)
    loaded.run(feeds)  # warm-up
    wall = []
    for _ in range(max(1, iterations)):
        start = time.perf_counter()
        loaded.run(feeds)
        wall.append((time.perf_counter() - start) * 1000)
    ort_json = Path(loaded.session.end_profiling())
    every = list(walk(loaded.graph))
    op_types = {g.node.name: g.node.op_type for g in every}
    scopes = {g.node.name: g.location for g in every if g.node.name}
    description = target.describe()
    del loaded
    gc.collect()  # the QNN EP writes its profile when the session is released
    rows: list[OpCost] = []
    raw = [str(ort_json)]
    for (name, op, provider), us in _parse_ort_json(ort_json, skip_runs=1).items():
        if provider == QNN:
            continue  # a whole QNN partition: broken down from the QNN profile below
        base = name if name in scopes else name.rsplit("/", 1)[0]  # fused nodes: "<node>/<FusionName>"
        rows.append(OpCost(name, op, provider, us, scope=scopes.get(base, "")))
    result = ProfileResult(str(src), description, len(wall), wall, rows, raw)
    _own_time(rows, result.notes)
    if target.is_qnn and qnn_csv.exists():
        raw.append(str(qnn_csv))
        raw += [str(p) for p in folder.glob("qnn_profile*.log")]
        cycles, accel_cycles, accel_us = _parse_qnn_csv(qnn_csv, len(wall))
        result.accelerator_us = accel_us
        total_cycles = accel_cycles or sum(cycles.values()) or 1.0
        for name, c in cycles.items():
            base = original_name(name)
            pseudo = name.startswith(("Input ", "Input OpId", "Output ", "Output OpId"))
            op = op_types.get(base) or ("graph I/O" if pseudo else base.split("_token")[0])
            us = c / total_cycles * accel_us if accel_us else 0.0
            rows.append(OpCost(base, op, QNN, us, c))
        if accel_us is None:
            result.notes.append("the QNN profile has no accelerator time: NPU rows carry cycles only")
    elif target.is_qnn:
        result.notes.append(f"the QNN EP wrote no profile at {qnn_csv}")
    total = result.rows_total_us or 1.0
    for r in rows:
        r.share = r.time_us / total
    return result
