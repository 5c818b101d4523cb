"""The NPU check of a prepared model: run it on the NPU of the chosen SoC with CPU fallback disabled, and compare
every output with the exact CPU QDQ arithmetic in that output's quantization steps; a model the NPU will not take
whole is refused naming the nodes it keeps off (the model stays written)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from onnpu.errors import PlacementError, TargetError
from onnpu.metrics import DRIFT_FLAG_STEPS, drift_in_steps
from onnpu.model.inspection import TensorInfo, tensor_infos
from onnpu.runtime.feeds import run_feeds
from onnpu.runtime.placement import PlacementSummary
from onnpu.runtime.session import create_session, exact_cpu_session
from onnpu.runtime.targets import Target
from onnpu.tasks.compile_failure import is_graph_failure
from onnpu.tasks.explain_placement import PlacementReport, explain_placement

__all__ = ["DRIFT_FLAG_STEPS", "NpuCheck", "OutputDrift", "verify_on_npu"]


@dataclass
class OutputDrift:
    """How far the NPU's output is from the exact CPU QDQ arithmetic, in the output's quantization steps. The
    largest difference alone can mislead: behind a steep function (a sigmoid over coarse logits) one step in its
    input moves a few values by a hundred steps while the rest agree, so the share beyond the flag is kept too."""

    name: str
    max_abs_diff: float
    step: float | None  # the output's quantization step (scale; per-axis: the largest); None: float, no Q/DQ
    steps: float | None  # max |NPU − CPU| / step; integer outputs without Q/DQ: the raw integer difference
    kind: str  # "quantized", "integer" or "float"
    mean_steps: float | None = None
    share_beyond: float | None = None  # share of the values more than ``flag_steps`` steps apart
    flag_steps: float = DRIFT_FLAG_STEPS  # DRIFT_FLAG_STEPS at 8 bits, in this output's steps (16 bits: 514)

    @property
    def flagged(self) -> bool:
        return self.steps is not None and self.steps > self.flag_steps + 1e-6

    def describe(self) -> str:
        if self.steps is None:
            return f"{self.name}: max |diff| {self.max_abs_diff:.4g} (float output, no quantization step)"
        unit = "integer" if self.kind == "integer" else "step"
        plural = "s" if round(self.steps, 2) != 1 else ""
        raw = f" (max |diff| {self.max_abs_diff:.4g}, step {self.step:.4g})" if self.kind == "quantized" else ""
        spread = f", {self.share_beyond:.2%} of values beyond {self.flag_steps:g}" if self.flagged and \
            self.share_beyond is not None else ""
        return f"{self.name}: {self.steps:.2f} {unit}{plural}{raw}{spread}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "max_abs_diff": self.max_abs_diff, "step": self.step, "steps": self.steps,
                "kind": self.kind, "flagged": self.flagged, "mean_steps": self.mean_steps,
                "share_beyond_flag": self.share_beyond, "flag_steps": self.flag_steps}


@dataclass
class NpuCheck:
    target: str
    session_seconds: float
    run_ms: float
    max_abs_diff_vs_cpu_exact: float
    placement: PlacementSummary
    outputs: list[OutputDrift] = field(default_factory=list)
    inputs: int = 1
    inputs_source: str = "random"
    npu_outputs: dict[str, list[np.ndarray]] = field(default_factory=dict, repr=False)  # float, per input

    @property
    def flagged(self) -> list[OutputDrift]:
        return [o for o in self.outputs if o.flagged]

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "session_seconds": self.session_seconds, "run_ms": self.run_ms,
                "max_abs_diff_vs_cpu_exact": self.max_abs_diff_vs_cpu_exact, "placement": self.placement.to_dict(),
                "outputs": [o.to_dict() for o in self.outputs], "flag_steps": DRIFT_FLAG_STEPS,
                "inputs": self.inputs, "inputs_source": self.inputs_source}


def _drift(name: str, npu: list[np.ndarray], cpu: list[np.ndarray], info: TensorInfo | None) -> OutputDrift:
    """Outputs in float (quantized ones dequantized with their own parameters) → the drift in steps."""
    quant = info.quant if info else None
    d = drift_in_steps(npu, cpu, quant.scale if quant else None, quant.axis if quant else None,
                       integer=info is not None and not np.issubdtype(info.numpy_dtype, np.floating),
                       bits=quant.bits if quant else 8)
    return OutputDrift(name, d.max_abs_diff, d.step, d.max_steps, d.kind, d.mean_steps, d.share_beyond, d.beyond)


def _refused_listing(report: PlacementReport) -> tuple[int, str]:
    """The nodes that keep the model off the NPU: those that fell back, or those refused at compilation."""
    nodes = report.cpu_nodes if not report.summary.failure else [n for n in report.nodes if n.reason]
    lines = "; ".join(f"{n.name} ({n.op_type}): {n.reason}" for n in nodes[:6])
    more = f" and {len(nodes) - 6} more" if len(nodes) > 6 else ""
    return len(nodes), lines + more


def verify_on_npu(model: Path, feeds: Sequence[Mapping[str, np.ndarray]], target: Target, *,
                  inputs_source: str = "random") -> NpuCheck:
    """Run on ``target`` with CPU fallback disabled and compare with the exact CPU QDQ arithmetic, per output in
    quantization steps. Raises PlacementError naming the nodes the NPU refused."""
    strict = target.with_fallback(False)
    try:
        session = create_session(model, strict)
    except (PlacementError, TargetError) as exc:
        if not isinstance(exc, PlacementError) and not is_graph_failure(exc):
            raise
        report = explain_placement(model, target)
        if report.summary.failure and not isinstance(exc, PlacementError):
            raise PlacementError(f"{model}: does not compile for {target.hardware}: {report.summary.failure}",
                                 hint=f"the model was written; {report.recommendations[0]}") from exc
        count, listing = _refused_listing(report)
        where = f"does not compile for {target.hardware}: {count} of {report.summary.total} nodes refused" \
            if report.summary.failure else \
            f"does not run fully on {target.name}: {count} of {report.summary.total} nodes stay on the CPU"
        raise PlacementError(f"{model}: {where} — {listing}",
                             hint=f"the model was written; see `onnpu placement {model} --target {target.name}`"
                             ) from exc
    start = time.perf_counter()
    npu = run_feeds(session, feeds, model=str(model))
    run_ms = (time.perf_counter() - start) * 1000 / max(1, len(feeds))
    cpu = run_feeds(exact_cpu_session(model), feeds, model=str(model))
    _, outputs = tensor_infos(session.proto)
    infos = {o.name: o for o in outputs}
    drift = [_drift(name, npu[name], cpu[name], infos.get(name)) for name in cpu]
    placement = session.placement or explain_placement(model, target).summary
    return NpuCheck(session.target.with_fallback(target.allow_fallback).describe(), session.create_seconds, run_ms,
                    max((d.max_abs_diff for d in drift), default=0.0), placement, drift, len(feeds), inputs_source,
                    npu)
