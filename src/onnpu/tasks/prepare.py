"""``prepare``: any model to a verified NPU-ready model for a SoC in one command — fix shapes, quantize a float
model (an already quantized one is kept), rewrite what the SoC's HTP cannot take as written (verified exact),
verify on the NPU with CPU fallback disabled, report quality and placement."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from onnpu.errors import PlacementError, QuantizationError, ShapeError
from onnpu.model.files import check_output, external_data_files, read_model, write_model
from onnpu.model.inspection import quantization_style, tensor_infos
from onnpu.model.qdq_groups import complete_qdq_groups
from onnpu.model.shapes import FixShapesResult, fix_shapes
from onnpu.quantize.config import DEFAULT_QUANTIZE, QuantizeConfig
from onnpu.quantize.pipeline import Progress, QuantizeResult, quantize
from onnpu.runtime.feeds import random_inputs, run_feeds
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
    quantization: QuantizeResult | None  # None: the model came quantized
    npu: NpuCheck | None
    notes: list[str] = field(default_factory=list)
    rewrites: list[str] = field(default_factory=list)
    rewrite_max_abs_diff: float | None = None  # exact CPU outputs, before vs after the rewrites

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "output": self.output,
                "shapes": self.shapes.to_dict() if self.shapes else None,
                "quantization": self.quantization.to_dict() if self.quantization else None,
                "rewrites": self.rewrites, "rewrite_max_abs_diff": self.rewrite_max_abs_diff,
                "npu": self.npu.to_dict() if self.npu else None, "notes": self.notes}


def verify_on_npu(model: Path, feeds: Mapping[str, np.ndarray], target: Target) -> NpuCheck:
    """Run once on ``target`` with CPU fallback disabled and compare with the exact CPU QDQ arithmetic.
    Raises PlacementError naming the nodes the NPU refused."""
    strict = target.with_fallback(False)
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


def _exact_outputs(model: Path | onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: values[0] for name, values in run_feeds(exact_cpu_session(model), [feeds], model="model").items()}


def _apply_rewrites(path: Path, feeds: Mapping[str, np.ndarray], prepared: PrepareResult) -> None:
    """Complete QDQ groups the HTP needs (v68 runs no float at all); verify on the exact CPU arithmetic that the
    outputs did not change, then replace the written model."""
    model = read_model(path)
    rewritten, fixes = complete_qdq_groups(model)
    if not fixes:
        return
    before, after = _exact_outputs(model, feeds), _exact_outputs(rewritten, feeds)
    diff = max(float(np.max(np.abs(before[k].astype(np.float64) - after[k].astype(np.float64)))) for k in before)
    if diff > 0:
        raise QuantizationError(f"{path}: completing the QDQ groups changed the outputs (max |diff| {diff:.3g})",
                                hint="report this model: the rewrite should be exact")
    write_model(rewritten, path, force=True, external_data=bool(external_data_files(read_model(
        path, load_external_data=False))) or None)
    prepared.rewrites = [f.describe() for f in fixes]
    prepared.rewrite_max_abs_diff = diff


def prepare(model: str | Path, out: str | Path, calib: str | Path | None = None, *,
            dims: Mapping[str, int] | None = None, shapes: Mapping[str, Sequence[int]] | None = None,
            config: QuantizeConfig = DEFAULT_QUANTIZE, io: str = "float", preprocess: PreprocessConfig | None = None,
            holdout: float = 0.2, limit: int | None = None, seed: int = 0, target_sqnr: float | None = None,
            target: Target | None = None, verify: bool = True, force: bool = False,
            progress: Progress | None = None) -> PrepareResult:
    """fix shapes → quantize (a float model) → complete QDQ groups for the HTP → verify on the NPU of
    ``target``'s SoC (fallback disabled) → quality and placement."""
    src = Path(model)
    dst = Path(out)
    check_output(dst, inputs=(src,), force=force)
    proto = read_model(src, load_external_data=False)
    inputs, _ = tensor_infos(proto)
    dynamic = {t.name: t.dynamic_dims for t in inputs if t.is_dynamic}
    style = quantization_style(Counter(n.op_type for n in proto.graph.node))
    if style == "float" and calib is None:
        raise QuantizationError(f"{src}: a float model needs calibration data to be quantized for the NPU",
                                hint="add --calib DIR|inputs.npz|random")
    notes: list[str] = []
    fixed: FixShapesResult | None = None
    result: QuantizeResult | None = None
    with scratch_dir("onnpu-prepare-") as tmp:
        source = src
        if dynamic or dims or shapes:
            if dynamic and not dims and not shapes:
                listed = "; ".join(f"{k}: {', '.join(v)}" for k, v in dynamic.items())
                raise ShapeError(f"{src}: inputs have dynamic dims ({listed}); the NPU needs fixed shapes",
                                 hint="give them with --dim NAME=VALUE or --input NAME=D0,D1,...")
            source = Path(tmp) / "fixed.onnx"
            fixed = fix_shapes(src, source, dims=dims, shapes=shapes)
        if style == "float":
            assert calib is not None
            result = quantize(source, dst, calib, config=config, io=io, preprocess=preprocess, holdout=holdout,
                              limit=limit, seed=seed, target_sqnr=target_sqnr, force=force, progress=progress)
            result.source = str(src)
        else:
            notes.append(f"the model is already quantized ({style}): kept as it is, not quantized again")
            had_external = bool(external_data_files(read_model(source, load_external_data=False)))
            write_model(read_model(source), dst, inputs=(src,), force=force, external_data=had_external or None)
    prepared = PrepareResult(str(src), str(dst), fixed, result, None, notes)
    feeds = random_inputs(tensor_infos(read_model(dst, load_external_data=False))[0], seed)
    _apply_rewrites(dst, feeds, prepared)
    if verify:
        prepared.npu = verify_on_npu(dst, feeds, target or get_target("npu"))
    return prepared
