"""``prepare``: any model to a verified NPU-ready model for a SoC in one command — fix shapes (given input values
baked in), simplify a float model (verified unchanged), quantize it (an already quantized one is kept), rewrite
what the SoC's HTP cannot take as written (verified exact), verify on the NPU with CPU fallback disabled (drift
per output in quantization steps), report quality and placement."""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from onnpu.errors import OnnpuError, QuantizationError, ShapeError, SimplifyError
from onnpu.metrics import DRIFT_FLAG_STEPS, worst_sqnr
from onnpu.model.exporter_metadata import exported_dims
from onnpu.model.files import check_output, read_model, read_model_and_layout, write_model
from onnpu.model.inspection import quantization_style, tensor_infos
from onnpu.model.qdq_groups import complete_qdq_groups
from onnpu.model.shapes import FixShapesResult, dynamic_dims, fix_shapes_model
from onnpu.model.simplify import bake_inputs
from onnpu.quantization import detection_head
from onnpu.quantization.calibration import kinds_for, load_calibration
from onnpu.quantization.config import AUTO, DEFAULT_QUANTIZE, QuantizeConfig
from onnpu.quantization.evaluate import NPU_QUALITY_SAMPLES, NpuQuality, output_tasks, qualities, run_on_cpu
from onnpu.quantization.pipeline import QuantizeResult, quantize, refuse_non_network
from onnpu.runtime.feeds import run_feeds
from onnpu.runtime.inputs import random_feeds
from onnpu.runtime.session import exact_cpu_session
from onnpu.runtime.targets import Target, get_target
from onnpu.storage import scratch_dir
from onnpu.tasks.detector_recipe import keep_the_boxes
from onnpu.tasks.npu_check import NpuCheck, verify_on_npu
from onnpu.tasks.simplify import SimplifyResult
from onnpu.tasks.simplify import simplify as simplify_model_file
from onnpu.vision.detection.heads import Head
from onnpu.vision.preprocess import PreprocessConfig, preprocess_for


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
    simplified: SimplifyResult | None = None

    def to_dict(self) -> dict[str, Any]:
        check = self.quantization.calibration_check if self.quantization else None
        return {"calibration_notice": check.first_line if check else None, "source": self.source,
                "output": self.output,
                "shapes": self.shapes.to_dict() if self.shapes else None,
                "simplify": self.simplified.to_dict() if self.simplified else None,
                "quantization": self.quantization.to_dict() if self.quantization else None,
                "rewrites": self.rewrites, "rewrite_max_abs_diff": self.rewrite_max_abs_diff,
                "npu": self.npu.to_dict() if self.npu else None, "notes": self.notes}


def _exact_outputs(model: Path | onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: values[0] for name, values in run_feeds(exact_cpu_session(model), [feeds], model="model").items()}


def _apply_rewrites(path: Path, feeds: Mapping[str, np.ndarray], prepared: PrepareResult) -> None:
    """Complete QDQ groups the HTP needs (v68 runs no float at all); verify on the exact CPU arithmetic that the
    outputs did not change, then replace the written model."""
    model, had_external = read_model_and_layout(path)
    rewritten, fixes = complete_qdq_groups(model)
    if not fixes:
        return
    before, after = _exact_outputs(model, feeds), _exact_outputs(rewritten, feeds)
    diff = max(float(np.max(np.abs(before[k].astype(np.float64) - after[k].astype(np.float64)))) for k in before)
    if diff > 0:
        raise QuantizationError(f"{path}: completing the QDQ groups changed the outputs (max |diff| {diff:.3g})",
                                hint="report this model: the rewrite should be exact")
    write_model(rewritten, path, force=True, external_data=had_external or None)
    prepared.rewrites = [f.describe() for f in fixes]
    prepared.rewrite_max_abs_diff = diff


def _bake_and_fix(src: Path, dst: Path, dims: Mapping[str, int] | None, shapes: Mapping[str, Sequence[int]] | None,
                  values: Mapping[str, Any] | None) -> FixShapesResult:
    """Input values as constants and shapes fixed, without simplifying (quantized models, --no-simplify)."""
    proto, had_external = read_model_and_layout(src)
    work, changes = bake_inputs(proto, values or {}, str(src))
    if dims or shapes:
        work, fixed = fix_shapes_model(work, dims, shapes, str(src))
        changes += fixed
    write_model(work, dst, external_data=had_external or None)
    return _shapes_result(src, dst, changes)


def _shapes_result(src: Path, fixed: Path, changes: list[str]) -> FixShapesResult:
    """What fixing did, with proof that nothing dynamic is left (ShapeError listing what is)."""
    model = read_model(fixed, load_external_data=False)
    remaining = dynamic_dims(model)
    if remaining:
        listed = "; ".join(f"{name}: {', '.join(d) or 'no shape'}" for name, d in remaining.items())
        raise ShapeError(f"{src}: dynamic dims remain after fixing: {listed}",
                         hint="fix them too (--dim NAME=VALUE / --input NAME=SHAPE)")
    inputs, outputs = tensor_infos(model)
    return FixShapesResult(str(src), None, changes, {t.name: t.shape for t in inputs},
                           {t.name: t.shape for t in outputs}, remaining)


@contextlib.contextmanager
def _errors_name(src: Path, tmp: str | Path) -> Iterator[None]:
    """An error about one of prepare's intermediate files (the simplified or fixed copy in its scratch folder)
    names the user's model instead."""
    try:
        yield
    except OnnpuError as exc:
        for copy in ("simplified.onnx", "fixed.onnx"):  # "<its path>: …": a message about the model itself
            if exc.message.startswith(f"{Path(tmp) / copy}: "):
                exc.message = f"{src}: " + exc.message.removeprefix(f"{Path(tmp) / copy}: ")
        raise


def prepare(model: str | Path, out: str | Path, calib: str | Path | None = None, *,
            dims: Mapping[str, int] | None = None, shapes: Mapping[str, Sequence[int]] | None = None,
            values: Mapping[str, Any] | None = None, simplify: bool = True,
            config: QuantizeConfig = DEFAULT_QUANTIZE, io: str = "float", preprocess: PreprocessConfig | None = None,
            holdout: float = 0.2, limit: int | None = None, seed: int = 0, target_sqnr: float | None = None,
            target: Target | None = None, verify: bool = True, verify_inputs: int | None = None,
            force: bool = False, input_ranges: Mapping[str, tuple[float, float]] | None = None) -> PrepareResult:
    """fix shapes (``values`` baked in as constants) → simplify (a float model; verified unchanged) → quantize →
    complete QDQ groups for the HTP → verify on the NPU of ``target``'s SoC (fallback disabled), drift per output
    in quantization steps → quality (float vs CPU QDQ and float vs that NPU, on ``verify_inputs`` held-out inputs,
    default ``NPU_QUALITY_SAMPLES``) and placement. ``input_ranges``: per-input ranges of ``random`` calibration."""
    src = Path(model)
    dst = Path(out)
    check_output(dst, inputs=(src,), force=force)
    proto = read_model(src, load_external_data=False)
    inputs, output_infos = tensor_infos(proto)
    dynamic = {t.name: t.dynamic_dims for t in inputs if t.is_dynamic and t.name not in (values or {})}
    style = quantization_style(Counter(n.op_type for n in proto.graph.node))
    if style == "float":
        refuse_non_network(src, proto, output_infos)  # named now, not after simplify in a scratch folder
    if style == "float" and calib is None:
        raise QuantizationError(f"{src}: a float model needs calibration data to be quantized for the NPU",
                                hint="add --calib DIR|inputs.npz|random")
    notes: list[str] = []
    exported = exported_dims(proto) if dynamic and not dims and not shapes else None
    if exported is not None and set(exported) >= {d for v in dynamic.values() for d in v}:
        dims = exported  # the size its exporter wrote into it (Ultralytics imgsz), batch 1
        notes.append("dynamic dims fixed at the size the model was exported for (its metadata): "
                     + " ".join(f"--dim {k}={v}" for k, v in exported.items()))
    elif dynamic and not dims and not shapes:
        listed = "; ".join(f"{k}: {', '.join(v)}" for k, v in dynamic.items())
        raise ShapeError(f"{src}: inputs have dynamic dims ({listed}); the NPU needs fixed shapes",
                         hint="give them with --dim NAME=VALUE or --input NAME=D0,D1,...")
    fixed: FixShapesResult | None = None
    simplified: SimplifyResult | None = None
    result: QuantizeResult | None = None
    verify_feeds: list[dict[str, np.ndarray]] = []
    feeds_source = "random"
    float_reference: dict[str, list[np.ndarray]] = {}
    tasks: dict[str, str] = {}
    head: Head | None = None
    retry: str | None = None  # a detector's boxes departing on the NPU at the activation width onnpu chose
    retry_with = "u16"
    with scratch_dir("onnpu-prepare-") as tmp, _errors_name(src, tmp):
        source = src
        if style == "float" and simplify:
            source = Path(tmp) / "simplified.onnx"
            try:
                simplified = simplify_model_file(src, source, dims=dims, shapes=shapes, values=values, seed=seed)
            except SimplifyError as exc:  # an optional step: quantize the model as it is, and say why
                hint = (exc.hint or "").split("; or skip")[0]
                notes.append(f"not simplified, quantized as it is: {exc.message.removeprefix(f'{src}: ')}"
                             + (f" ({hint})" if hint and not hint.startswith("skip") else ""))
                source = src
            else:
                fixed = _shapes_result(src, source, simplified.baked + simplified.shape_changes) \
                    if (dynamic or dims or shapes or values) else None
        if source == src and (dynamic or dims or shapes or values):
            source = Path(tmp) / "fixed.onnx"
            fixed = _bake_and_fix(src, source, dims, shapes, values)
        if style == "float":
            assert calib is not None
            float_model = read_model(source)
            preprocess = preprocess or detection_head.calibration_preprocess(float_model)  # detectors: their own
            data = load_calibration(calib, tensor_infos(float_model)[0],
                                    preprocess=preprocess_for(float_model, preprocess, str(src)), holdout=holdout,
                                    limit=limit, seed=seed, kinds=kinds_for(float_model, overrides=input_ranges))
            kept = detection_head.boxes_to_keep(float_model, data.heldout + data.calibration, data.calibration,
                                                config, target or get_target("npu"))  # refused stages: never taken
            result = quantize(source, dst, data, config=config, io=io, preprocess=preprocess, seed=seed,
                              target_sqnr=target_sqnr, force=force, sixteen_bit=kept[0] if kept else ())
            if kept:
                detection_head.detection_report(read_model(source), read_model(dst), data.heldout + data.calibration,
                                                kept[1])
                raised, report = kept
                result = keep_the_boxes(result, float_model, report, lambda c: quantize(
                    source, dst, data, config=c, io=io, preprocess=preprocess, seed=seed, target_sqnr=target_sqnr,
                    force=True, sixteen_bit=raised), lambda: detection_head.detection_report(
                    read_model(source), read_model(dst), data.heldout + data.calibration, report))
                result.notes.extend(kept[1].lines())
                result.detection = kept[1].to_dict()
            result.source = str(src)
            verify_feeds = (data.heldout or data.calibration)[:max(1, verify_inputs or NPU_QUALITY_SAMPLES)]
            if data.heldout and verify:
                float_reference = run_on_cpu(float_model, verify_feeds, exact=False)
                tasks = output_tasks(float_model)
                head = detection_head.detection_head_of(float_model) if kept else None
            del float_model
            kind = "held-out" if data.heldout else "calibration"
            feeds_source = f"{kind} input{'s' if len(verify_feeds) > 1 else ''} ({data.source})"
        else:
            notes.append(f"the model is already quantized ({style}): kept as it is, not quantized again"
                         + (" nor simplified (folding would dequantize its weights)" if simplify else ""))
            kept, had_external = read_model_and_layout(source)
            write_model(kept, dst, inputs=(src,), force=force, external_data=had_external or None)
    prepared = PrepareResult(str(src), str(dst), fixed, result, None, notes, simplified=simplified)
    if not verify_feeds:
        written = read_model(dst, load_external_data=False)
        infos = tensor_infos(written)[0]
        verify_feeds = random_feeds(written, max(1, verify_inputs or 1), seed, infos=infos)
    _apply_rewrites(dst, verify_feeds[0], prepared)
    if verify:
        prepared.npu = verify_on_npu(dst, verify_feeds, target or get_target("npu"), inputs_source=feeds_source)
        if result is not None and float_reference:
            n = len(verify_feeds)
            result.npu_quality = NpuQuality(prepared.npu.target, n, qualities(
                float_reference, prepared.npu.npu_outputs, tasks, n), prepared.npu.placement.headline())
            if head is not None and result.detection is not None:  # a detector: its boxes on the NPU
                result.detection["npu"], warning = detection_head.on_device(
                    head, float_reference, prepared.npu.npu_outputs, prepared.npu.target, result.detection,
                    result.config.activations)
                every = result.detection.get("stage") == detection_head.EVERY_ACTIVATION  # W8A16 by measurement
                if every and not warning:
                    warning = _npu_departure(result)  # no box on the inputs checked: the outputs' SQNR says it
                if warning and config.activations == AUTO and (result.config.activations == "u8" or every):
                    retry = warning  # onnpu chose the activations: the other width is tried below
                    retry_with = "u8" if every else "u16"
                elif warning:
                    prepared.notes.append(warning)
        flagged = prepared.npu.flagged
        if flagged:
            listed = ", ".join(f"{d.name} (max {d.steps:.0f} steps"
                               + (" of its own 16-bit grid" if d.flag_steps > DRIFT_FLAG_STEPS else "")
                               + f", {d.share_beyond:.2%} of its values beyond {d.flag_steps:g}, "
                               f"mean {d.mean_steps:.2f})" for d in flagged)
            prepared.notes.append(
                f"output{'s' if len(flagged) > 1 else ''} beyond {DRIFT_FLAG_STEPS:g} quantization steps (of an 8-bit "
                f"grid over its range) from the "
                f"exact CPU QDQ arithmetic: {listed}. Per-layer differences of one step add up through a network, "
                "and a steep function (a sigmoid over coarse logits) magnifies a few values; `onnpu compare` on your "
                "own inputs shows what it costs")
    if retry:
        return _detector_again(prepared, retry, retry_with, model, dst, calib, dims=dims, shapes=shapes,
                               values=values, simplify=simplify, config=config, io=io, preprocess=preprocess,
                               holdout=holdout, limit=limit, seed=seed, target_sqnr=target_sqnr, target=target,
                               verify=verify, verify_inputs=verify_inputs, input_ranges=input_ranges)
    return prepared


DEPARTURE_DB = 10.0  # the NPU this far below the CPU QDQ arithmetic (SQNR against the float model): it departs


def _npu_departure(result: QuantizeResult) -> str | None:
    """A warning when the written model's outputs on the NPU are ``DEPARTURE_DB`` or more further from the float
    model's than on the exact CPU QDQ arithmetic (the inputs checked may show no box)."""
    npu = result.npu_quality
    if npu is None or not npu.outputs or not result.quality:
        return None
    cpu, device = result.worst_sqnr, worst_sqnr(npu.outputs)
    if not cpu - device >= DEPARTURE_DB:
        return None
    return (f"on the NPU ({npu.target}) the outputs are {device:.1f} dB from the float model's, {cpu:.1f} dB on the "
            "exact CPU QDQ arithmetic: its 16-bit arithmetic departs")


def _misses(result: PrepareResult) -> tuple[int, float, float]:
    """Boxes missed or added on the NPU, then the median box error (at 640 input), then the outputs' SQNR against
    the float model on the NPU (negated): lower is better."""
    quant = result.quantization
    found = (quant.detection or {}).get("npu") if quant else None
    if not found:
        return 1 << 30, float("inf"), float("inf")
    median = found.get("median_box_error_px_at_640")
    npu = quant.npu_quality if quant else None
    sqnr = worst_sqnr(npu.outputs) if npu else float("nan")
    return (int(found["missed"] + found["extra"]), float("inf") if median is None else float(median),
            float("inf") if math.isnan(sqnr) else -sqnr)


def _said(result: PrepareResult) -> str:
    missed, median, sqnr = _misses(result)
    return (f"{missed} missed or extra, "
            + (f"median box error {median:.2f} px at 640" if median != float("inf") else "no box on the inputs checked")
            + (f", outputs {-sqnr:.1f} dB from the float model's" if sqnr != float("inf") else ""))


def _detector_again(first: PrepareResult, warning: str, activations: str, model: str | Path, dst: Path,
                    calib: str | Path | None, *, config: QuantizeConfig, **options: Any) -> PrepareResult:
    """A detector whose boxes depart on the NPU at the width onnpu chose (``activations`` left to onnpu): prepared
    again at the other — W8A16 after W8A8; 8-bit activations (the head's outputs 16-bit as measured) after a
    W8A16 whose 16-bit arithmetic the HTP does not follow (nudenet's YOLOv8n on QCS8550: 43.0 dB on the CPU QDQ
    arithmetic, 19.6 dB on the NPU) — and kept when its boxes on the NPU are closer to the float model's (fewer
    missed or added, then a smaller median box error), written over ``dst`` then; else the first model stays,
    with the warning."""
    name = "W8A16" if activations == "u16" else "8-bit activations"
    with scratch_dir("onnpu-prepare-again-") as tmp:
        try:
            second = prepare(model, tmp / dst.name, calib, config=replace(config, activations=activations), **options)
        except OnnpuError as exc:  # the HTP may refuse the 16-bit model (v68 builds no 16-bit Concat of a constant)
            first.notes.append(warning + f" (tried here: {name} did not prepare: {exc.message.splitlines()[0]})")
            return first
        if _misses(second) >= _misses(first):
            first.notes.append(warning + f" (tried here: {name} did not do better on the NPU: {_said(second)})")
            return first
        write_model(read_model(tmp / dst.name), dst, force=True)
    second.output = str(dst)
    was = "W8A8" if activations == "u16" else "W8A16"
    second.notes.insert(0, f"{name} chosen for this detector: at {was} {warning.removeprefix('on the NPU ')}; "
                           f"at {name} on the NPU: {_said(second)}")
    return second
