"""``prepare``: any float model to a verified NPU-ready model in one command — fix shapes, quantize,
verify on the NPU with CPU fallback disabled, report quality and placement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from onnpu.errors import PlacementError, ShapeError
from onnpu.model.files import check_output, read_model
from onnpu.model.inspection import tensor_infos
from onnpu.model.shapes import FixShapesResult, fix_shapes
from onnpu.quantize.config import DEFAULT_QUANTIZE, QuantizeConfig
from onnpu.quantize.pipeline import Progress, QuantizeResult, quantize
from onnpu.runtime.feeds import random_inputs
from onnpu.runtime.placement import PlacementSummary
from onnpu.runtime.session import create_session, exact_cpu_session
from onnpu.runtime.targets import Target, get_target
from onnpu.storage import scratch_dir
from onnpu.tasks.explain_placement import explain_placement
from onnpu.tasks.run import run_model
from onnpu.vision.preprocess import PreprocessConfig


@dataclass
class NpuCheck:
    target: str
    session_seconds: float
    run_ms: float
    max_abs_diff_vs_cpu_exact: float
    placement: PlacementSummary

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "session_seconds": self.session_seconds, "run_ms": self.run_ms,
                "max_abs_diff_vs_cpu_exact": self.max_abs_diff_vs_cpu_exact, "placement": self.placement.to_dict()}


@dataclass
class PrepareResult:
    source: str
    output: str
    shapes: FixShapesResult | None
    quantization: QuantizeResult
    npu: NpuCheck | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "output": self.output,
                "shapes": self.shapes.to_dict() if self.shapes else None,
                "quantization": self.quantization.to_dict(), "npu": self.npu.to_dict() if self.npu else None,
                "notes": self.notes}


def verify_on_npu(model: Path, feeds: Mapping[str, np.ndarray], target: Target) -> NpuCheck:
    """Run once on ``target`` with CPU fallback disabled and compare with the exact CPU QDQ arithmetic.
    Raises PlacementError naming the nodes the NPU refused."""
    strict = Target(target.name, target.provider, target.options, allow_fallback=False)
    try:
        session = create_session(model, strict)
    except PlacementError as exc:
        report = explain_placement(model, target)
        lines = "; ".join(f"{n.name} ({n.op_type}): {n.reason}" for n in report.cpu_nodes[:6])
        more = f" and {len(report.cpu_nodes) - 6} more" if len(report.cpu_nodes) > 6 else ""
        raise PlacementError(f"{model}: does not run fully on {target.name}: {len(report.cpu_nodes)} of "
                             f"{report.summary.total} nodes stay on the CPU — {lines}{more}",
                             hint=f"the model was written; see `onnpu placement {model} --target {target.name}`"
                             ) from exc
    result = run_model(model, strict, inputs=feeds, session=session)
    reference = run_model(model, get_target("cpu"), inputs=feeds,
                          session=exact_cpu_session(model))
    diff = max(float(np.max(np.abs(result.outputs[k].astype(np.float64) - reference.outputs[k].astype(np.float64))))
               for k in result.outputs)
    placement = result.placement or explain_placement(model, target).summary
    return NpuCheck(target.describe(), session.create_seconds, float(np.median(result.latencies_ms)), diff,
                    placement)


def prepare(model: str | Path, out: str | Path, calib: str | Path, *, dims: Mapping[str, int] | None = None,
            shapes: Mapping[str, Sequence[int]] | None = None, config: QuantizeConfig = DEFAULT_QUANTIZE,
            io: str = "float", preprocess: PreprocessConfig | None = None, holdout: float = 0.2,
            limit: int | None = None, seed: int = 0, target_sqnr: float | None = None,
            target: Target | None = None, verify: bool = True, force: bool = False,
            progress: Progress | None = None) -> PrepareResult:
    """fix shapes → quantize → verify on the NPU (fallback disabled) → quality and placement."""
    src = Path(model)
    dst = Path(out)
    check_output(dst, inputs=(src,), force=force)
    proto = read_model(src, load_external_data=False)
    inputs, _ = tensor_infos(proto)
    dynamic = {t.name: t.dynamic_dims for t in inputs if t.is_dynamic}
    notes: list[str] = []
    fixed: FixShapesResult | None = None
    with scratch_dir("onnpu-prepare-") as tmp:
        source = src
        if dynamic or dims or shapes:
            if dynamic and not dims and not shapes:
                listed = "; ".join(f"{k}: {', '.join(v)}" for k, v in dynamic.items())
                raise ShapeError(f"{src}: inputs have dynamic dims ({listed}); the NPU needs fixed shapes",
                                 hint="give them with --dim NAME=VALUE or --input NAME=D0,D1,...")
            source = Path(tmp) / "fixed.onnx"
            fixed = fix_shapes(src, source, dims=dims, shapes=shapes)
        result = quantize(source, dst, calib, config=config, io=io, preprocess=preprocess, holdout=holdout,
                          limit=limit, seed=seed, target_sqnr=target_sqnr, force=force, progress=progress)
        result.source = str(src)
    prepared = PrepareResult(str(src), str(dst), fixed, result, None, notes)
    if verify:
        q_inputs, _ = tensor_infos(read_model(dst, load_external_data=False))
        feeds = random_inputs(q_inputs, seed)
        prepared.npu = verify_on_npu(dst, feeds, target or get_target("npu"))
    return prepared

