"""``quantize``: float model → QDQ model for the HTP, with a quality report on held-out inputs, optional
quantized I/O, and optional mixed precision to reach a target SQNR."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from onnpu.calibration import CalibrationData, load_calibration
from onnpu.errors import QuantizationError
from onnpu.inspection import tensor_infos
from onnpu.modelio import check_output, external_data_files, read_model, write_model
from onnpu.preprocess import PreprocessConfig, config_from_metadata
from onnpu.qdq_io import quantized_io
from onnpu.quality import OutputQuality, compare_outputs
from onnpu.quantization import (
    DEFAULT_QUANTIZE,
    QuantizeConfig,
    constants_to_initializers,
    quantize_qdq_model,
    set_metadata,
)
from onnpu.rounding import RoundingReport

Progress = Callable[[str, int, int], None]  # (stage, done, total)
ROUNDING_SAMPLES = 64  # calibration inputs whose layer statistics drive optimised rounding


@dataclass
class MixedPrecisionStep:
    raised: list[str]
    sqnr_db: float


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
    steps: list[MixedPrecisionStep] = field(default_factory=list)
    target_sqnr: float | None = None
    plain_bytes: int | None = None
    notes: list[str] = field(default_factory=list)
    rounding: RoundingReport | None = None
    nearest_quality: list[OutputQuality] | None = None  # before optimised rounding

    @property
    def worst_sqnr(self) -> float:
        return min((q.sqnr_db for q in self.quality), default=float("nan"))

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "output": self.output, "config": self.config.to_dict(), "io": self.io,
                "calibration_inputs": self.calibration_count, "heldout_inputs": self.heldout_count,
                "quality": [q.to_dict() for q in self.quality], "seconds": self.seconds,
                "float_bytes": self.float_bytes, "quantized_bytes": self.quantized_bytes,
                "target_sqnr_db": self.target_sqnr, "sixteen_bit_tensors": self.sixteen_bit,
                "mixed_precision_steps": [{"raised": s.raised, "sqnr_db": s.sqnr_db} for s in self.steps],
                "plain_quantized_bytes": self.plain_bytes, "notes": self.notes,
                "rounding": self.rounding.to_dict() if self.rounding else None,
                "nearest_quality": [q.to_dict() for q in self.nearest_quality] if self.nearest_quality else None}


def _model_bytes(model: onnx.ModelProto) -> int:
    return model.ByteSize()


def run_on_cpu(model: onnx.ModelProto, feeds: Sequence[Mapping[str, np.ndarray]], *,
               exact: bool) -> dict[str, list[np.ndarray]]:
    """Outputs (dequantized to float) of ``model`` on the CPU for every feed. ``exact`` runs the graph as
    written (QDQ arithmetic exact, as the HTP computes it) instead of the CPU EP's fused integer kernels."""
    from onnpu.running import output_as_float, prepare_feeds
    from onnpu.session import cpu_session_from_proto

    session = cpu_session_from_proto(model, exact=exact)
    inputs, outputs = tensor_infos(model)
    results: dict[str, list[np.ndarray]] = {o.name: [] for o in outputs}
    for feed in feeds:
        prepared, _ = prepare_feeds(inputs, feed, "model")
        values = session.run([o.name for o in outputs], prepared)
        for info, value in zip(outputs, values, strict=True):
            results[info.name].append(output_as_float(info, value))
    return results


def evaluate(float_model: onnx.ModelProto, quant_model: onnx.ModelProto,
             heldout: Sequence[Mapping[str, np.ndarray]]) -> list[OutputQuality]:
    if not heldout:
        return []
    ref = run_on_cpu(float_model, heldout, exact=False)
    test = run_on_cpu(quant_model, heldout, exact=True)
    return [compare_outputs(name, ref[name], test[name]) for name in ref if name in test]


def quantize(model: str | Path, out: str | Path, calib: str | Path | CalibrationData, *,
             config: QuantizeConfig = DEFAULT_QUANTIZE, io: str = "float", preprocess: PreprocessConfig | None = None,
             holdout: float = 0.2, limit: int | None = None, seed: int = 0, target_sqnr: float | None = None,
             force: bool = False, progress: Progress | None = None, jobs: int = 1) -> QuantizeResult:
    """Quantize ``model`` for the HTP and report its accuracy against the float model on held-out inputs
    (never the calibration inputs)."""
    if io not in ("float", "uint8"):
        raise QuantizationError(f"unknown --io value {io!r}", hint="--io takes float or uint8")
    start = time.perf_counter()
    src = Path(model)
    check_output(out, inputs=(src,), force=force)
    float_model = constants_to_initializers(read_model(src))
    had_external = bool(external_data_files(read_model(src, load_external_data=False)))
    inputs, _ = tensor_infos(float_model)
    dynamic = {t.name: t.dynamic_dims for t in inputs if t.is_dynamic}
    if dynamic:
        listed = "; ".join(f"{k}: {', '.join(v)}" for k, v in dynamic.items())
        raise QuantizationError(f"{src}: inputs have dynamic dims ({listed}); the HTP needs fixed shapes",
                                hint=f"run `onnpu fix-shapes {src} --dim NAME=VALUE -o fixed.onnx` first, "
                                     "or use `onnpu prepare`")
    metadata = {m.key: m.value for m in float_model.metadata_props}
    pre = preprocess or config_from_metadata(metadata) or PreprocessConfig()
    data = calib if isinstance(calib, CalibrationData) else \
        load_calibration(calib, inputs, preprocess=pre, holdout=holdout, limit=limit, seed=seed)

    def calib_progress(done: int) -> None:
        if progress:
            progress("calibrating", done, len(data.calibration))

    quant = quantize_qdq_model(float_model, data.calibration, config, progress=calib_progress)
    quality = evaluate(float_model, quant, data.heldout)
    result = QuantizeResult(str(src), str(out), config, io, len(data.calibration), len(data.heldout), quality,
                            0.0, _model_bytes(float_model), _model_bytes(quant), target_sqnr=target_sqnr)
    if not data.heldout:
        result.notes.append("no held-out inputs (--holdout 0): no quality report")
    if target_sqnr is not None:
        from onnpu.mixed_precision import raise_to_target

        quant = raise_to_target(float_model, quant, data, config, target_sqnr, result, progress)
    if config.rounding == "optimized":
        from onnpu.rounding import optimize_rounding

        result.nearest_quality = result.quality
        quant, result.rounding = optimize_rounding(quant, float_model, data.calibration[:ROUNDING_SAMPLES],
                                                   bias_correction=config.bias_correction, jobs=jobs,
                                                   progress=progress)
        result.quality = evaluate(float_model, quant, data.heldout)
    if io == "uint8":
        quant = quantized_io(quant)
    set_metadata(quant, {"onnpu.quantization": json.dumps({**config.to_dict(), "io": io,
                                                          "sixteen_bit": result.sixteen_bit})})
    result.quantized_bytes = _model_bytes(quant)
    write_model(quant, out, inputs=(src,), force=force, external_data=had_external or None)
    result.seconds = time.perf_counter() - start
    return result
