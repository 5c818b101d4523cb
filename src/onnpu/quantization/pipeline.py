"""``quantize``: float model → QDQ model for the HTP, with a quality report on held-out inputs, optional
quantized I/O, and optional mixed precision to reach a target SQNR."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from onnpu import jsonio
from onnpu.errors import OnnpuError, QuantizationError
from onnpu.metrics import OutputQuality, worst_sqnr
from onnpu.model.files import check_output, read_model_and_layout, set_metadata, write_model
from onnpu.model.inspection import TensorInfo, tensor_infos
from onnpu.model.transforms import constants_to_initializers, quantized_io
from onnpu.quantization.calibration import CalibrationData, evenly, kinds_for, load_calibration
from onnpu.quantization.config import DEFAULT_QUANTIZE, QuantizeConfig
from onnpu.quantization.equalization import EqualizationReport, equalized_model
from onnpu.quantization.evaluate import (
    NPU_QUALITY_SAMPLES,
    NpuQuality,
    evaluate,
    output_tasks,
    quality_on_npu,
    run_on_cpu,
)
from onnpu.quantization.mixed_precision import MixedPrecisionStep, raise_to_target
from onnpu.quantization.range_search import RangeReport
from onnpu.quantization.recipe import quantize_qdq_model
from onnpu.quantization.rounding import RoundingReport
from onnpu.quantization.transformer import resolve_config
from onnpu.quantization.trust import CalibrationCheck, check_calibration
from onnpu.runtime.feeds import NOT_A_TENSOR_HINT
from onnpu.runtime.inputs import check_finite
from onnpu.runtime.targets import Target
from onnpu.vision.preprocess import PreprocessConfig, preprocess_for

ROUNDING_SAMPLES = 64  # calibration inputs (spread over all of them) whose statistics drive range search and rounding


@dataclass
class QuantizeResult:
    source: str
    output: str
    config: QuantizeConfig
    io: str
    calibration_count: int
    heldout_count: int
    quality: list[OutputQuality]
    seconds: float
    float_bytes: int
    quantized_bytes: int
    sixteen_bit: list[str] = field(default_factory=list)
    detection: dict[str, Any] | None = None  # a detector's boxes kept (onnpu.quantization.detection_head)
    steps: list[MixedPrecisionStep] = field(default_factory=list)
    mixed_cost: float | None = None  # share of the activation elements --target-sqnr raised to 16 bits
    target_sqnr: float | None = None
    plain_bytes: int | None = None
    notes: list[str] = field(default_factory=list)
    rounding: RoundingReport | None = None
    nearest_quality: list[OutputQuality] | None = None  # before range search and optimised rounding
    ranges: RangeReport | None = None
    equalization: EqualizationReport | None = None
    calibration_check: CalibrationCheck | None = None  # random/small calibration said first; clipping
    npu_quality: NpuQuality | None = None  # float vs the quantized model on the NPU of the chosen SoC

    @property
    def worst_sqnr(self) -> float:
        return worst_sqnr(self.quality)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "output": self.output, "config": self.config.to_dict(), "io": self.io,
                "calibration_inputs": self.calibration_count, "heldout_inputs": self.heldout_count,
                "quality": [q.to_dict() for q in self.quality], "seconds": self.seconds,
                "float_bytes": self.float_bytes, "quantized_bytes": self.quantized_bytes,
                "target_sqnr_db": self.target_sqnr, "sixteen_bit_tensors": self.sixteen_bit,
                "detection": self.detection,
                "mixed_precision_steps": [{"raised": s.raised, "sqnr_db": s.sqnr_db} for s in self.steps],
                "mixed_precision_cost": self.mixed_cost,
                "plain_quantized_bytes": self.plain_bytes, "notes": self.notes,
                "rounding": self.rounding.to_dict() if self.rounding else None,
                "range_search": self.ranges.to_dict() if self.ranges else None,
                "equalization": self.equalization.to_dict() if self.equalization else None,
                "nearest_quality": [q.to_dict() for q in self.nearest_quality] if self.nearest_quality else None,
                "calibration_check": self.calibration_check.to_dict() if self.calibration_check else None,
                "npu_quality": self.npu_quality.to_dict() if self.npu_quality else None}


def _model_bytes(model: onnx.ModelProto) -> int:
    return model.ByteSize()


NETWORK_OPS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul", "LSTM", "GRU", "RNN", "Einsum", "Attention"})


def refuse_non_network(src: Path, model: onnx.ModelProto, outputs: Sequence[TensorInfo]) -> None:
    """A classic machine-learning model (scikit-learn through skl2onnx: ``ai.onnx.ml`` operators and no layer of a
    network) or outputs that are not tensors: nothing the HTP runs, refused by name before the quantizer fails
    somewhere inside."""
    classic = sorted({n.op_type for n in model.graph.node if n.domain == "ai.onnx.ml"})
    network = any(n.op_type in NETWORK_OPS and n.domain in ("", "ai.onnx") for n in model.graph.node)
    if classic and not network:  # an MLP whose last step is an ai.onnx.ml op is still a network
        raise QuantizationError(f"{src}: a classic machine-learning model ({', '.join(classic[:4])} from ai.onnx.ml):"
                                " the NPU runs neural-network operators only, so there is nothing to quantize",
                                hint=f"run it on the CPU: onnpu run {src} --target cpu")
    boxed = [o for o in outputs if o.container is not None]
    if boxed:
        raise QuantizationError(f"{src}: output {boxed[0].name!r} is not a tensor but {boxed[0].container}: the "
                                "HTP computes tensors", hint=NOT_A_TENSOR_HINT)


def quantize(model: str | Path, out: str | Path, calib: str | Path | CalibrationData, *,
             config: QuantizeConfig = DEFAULT_QUANTIZE, io: str = "float", preprocess: PreprocessConfig | None = None,
             holdout: float = 0.2, limit: int | None = None, seed: int = 0, target_sqnr: float | None = None,
             force: bool = False, jobs: int = 1, npu: Target | None = None,
             input_ranges: Mapping[str, tuple[float, float]] | None = None,
             sixteen_bit: Sequence[str] = ()) -> QuantizeResult:
    """Quantize ``model`` for the HTP and report its accuracy against the float model on held-out inputs
    (never the calibration inputs): on the exact CPU QDQ arithmetic, and with ``npu`` (the NPU of a SoC) on a few
    of them there too. ``input_ranges``: per-input ranges of ``random`` calibration data. ``sixteen_bit``:
    activations kept in 16 bits from the start."""
    if io not in ("float", "uint8"):
        raise QuantizationError(f"unknown --io value {io!r}", hint="--io takes float or uint8")
    start = time.perf_counter()
    src = Path(model)
    check_output(out, inputs=(src,), force=force)
    loaded, had_external = read_model_and_layout(src)
    float_model = constants_to_initializers(loaded)
    inputs, output_infos = tensor_infos(float_model)
    refuse_non_network(src, float_model, output_infos)
    dynamic = {t.name: t.dynamic_dims for t in inputs if t.is_dynamic}
    if dynamic:
        listed = "; ".join(f"{k}: {', '.join(v)}" for k, v in dynamic.items())
        raise QuantizationError(f"{src}: inputs have dynamic dims ({listed}); the HTP needs fixed shapes",
                                hint=f"run `onnpu fix-shapes {src} --dim NAME=VALUE -o fixed.onnx` first, "
                                     "or use `onnpu prepare`")
    pre = preprocess_for(float_model, preprocess, str(src))
    data = calib if isinstance(calib, CalibrationData) else \
        load_calibration(calib, inputs, preprocess=pre, holdout=holdout, limit=limit, seed=seed,
                         kinds=kinds_for(float_model, overrides=input_ranges))

    config, recipe = resolve_config(float_model, config)  # "auto" activations: W8A16 for transformer encoders
    said = [f"recipe: {recipe}"] if recipe else []
    equalized = None
    if config.equalize:
        float_model, equalized, line = equalized_model(float_model, data.calibration)
        said.append(line)
    try:
        quant = quantize_qdq_model(float_model, data.calibration, config, notes=said, sixteen_bit=sixteen_bit)
    except (AssertionError, QuantizationError) as exc:  # the calibrator fails on NaN/Inf ranges ("scale issue")
        try:
            outputs = run_on_cpu(float_model, data.calibration, exact=False)
        except OnnpuError:  # the float model itself fails on these inputs: the calibrator's error says where
            outputs = None
        if outputs is not None:
            check_finite(outputs, model=str(src), samples=data.calibration_names,
                         inputs=data.random_kinds)  # names the output and the input
        if isinstance(exc, QuantizationError):
            raise
        raise QuantizationError(f"{src}: calibration failed ({exc or 'assertion'}): an activation's range is not "
                                "finite on the calibration inputs",
                                hint="check the calibration inputs (onnpu run MODEL --input ...) for values out of "
                                     "the model's range") from exc
    reference = run_on_cpu(float_model, data.heldout, exact=False) if data.heldout else {}  # the float outputs, once
    quality = evaluate(float_model, quant, data.heldout, reference)
    result = QuantizeResult(str(src), str(out), config, io, len(data.calibration), len(data.heldout), quality,
                            0.0, _model_bytes(float_model), _model_bytes(quant), target_sqnr=target_sqnr)
    result.sixteen_bit = list(sixteen_bit)
    result.equalization = equalized
    result.notes.extend(said)
    if not data.heldout:
        result.notes.append("no held-out inputs (--holdout 0): no quality report")
    if config.range_search or config.rounding == "optimized":
        result.nearest_quality = result.quality  # min/max ranges, nearest rounding
    plain = quant

    def finish(model: onnx.ModelProto, quality: list[OutputQuality]) -> tuple[onnx.ModelProto, list[OutputQuality]]:
        """Range search and optimised rounding as configured on a model of min/max ranges and nearest rounding
        (whose quality is ``quality``), and the quality of what they give."""
        if config.range_search:
            from onnpu.quantization.range_search import search_ranges

            model, result.ranges = search_ranges(model, float_model, evenly(data.calibration, ROUNDING_SAMPLES))
            if config.rounding != "optimized" and result.ranges.changed:
                quality = evaluate(float_model, model, data.heldout, reference)
        if config.rounding == "optimized":
            from onnpu.quantization.rounding import optimize_rounding

            model, result.rounding = optimize_rounding(model, float_model, evenly(data.calibration, ROUNDING_SAMPLES),
                                                       bias_correction=config.bias_correction, jobs=jobs)
            quality = evaluate(float_model, model, data.heldout, reference)
        return model, quality

    quant, result.quality = finish(quant, result.quality)
    if target_sqnr is not None:  # judged on what the recipe gives in the end: ranges searched, weights rounded
        result.plain_bytes = plain.ByteSize()
        raised = raise_to_target(float_model, plain, data, config, target_sqnr, result.quality,
                                 reference=reference, keep=sixteen_bit, finish=finish, jobs=jobs)
        result.steps, result.mixed_cost = raised.steps, raised.cost
        if raised.steps:
            quant, result.quality, result.sixteen_bit = raised.model, raised.quality, raised.sixteen_bit
        result.notes += raised.notes
    if result.ranges is not None:
        result.notes += result.ranges.notes
    if result.rounding is not None:
        result.notes += result.rounding.notes
    result.calibration_check = check_calibration(data, float_model, quant)
    if io == "uint8":
        quant = quantized_io(quant)
    if npu is not None and data.heldout:
        feeds = data.heldout[:NPU_QUALITY_SAMPLES]
        result.npu_quality = quality_on_npu(quant, feeds, {k: v[:len(feeds)] for k, v in reference.items()}, npu,
                                            output_tasks(float_model))
    set_metadata(quant, {"onnpu.quantization": jsonio.dumps({**config.to_dict(), "io": io,
                                                           "sixteen_bit": result.sixteen_bit}, indent=None)})
    result.quantized_bytes = _model_bytes(quant)
    write_model(quant, out, inputs=(src,), force=force, external_data=had_external or None)
    result.seconds = time.perf_counter() - start
    return result
