"""Mixed precision: find the activations whose 8-bit quantization hurts most (ONNX Runtime's
``qdq_loss_debug``) and raise them to uint16, which the QNN HTP runs, until a target SQNR is met."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnx

from onnpu.calibration import CalibrationData
from onnpu.quantization import QuantizeConfig, quantize_qdq_model

if TYPE_CHECKING:
    from onnpu.quantizing import Progress, QuantizeResult

SCHEDULE = (0.05, 0.1, 0.2, 0.4, 1.0)  # cumulative share of the ranked activations raised per round
SENSITIVITY_SAMPLES = 4


class _Feeds:
    """The iterable CalibrationDataReader that ``collect_activations`` expects."""

    def __init__(self, feeds: Sequence[Mapping[str, np.ndarray]]) -> None:
        self._feeds = feeds
        self._it = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        item = next(self._it, None)
        return dict(item) if item is not None else None

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        return (dict(f) for f in self._feeds)


def sensitivity(float_model: onnx.ModelProto, quant_model: onnx.ModelProto,
                feeds: Sequence[Mapping[str, np.ndarray]]) -> dict[str, float]:
    """SQNR (dB) of each activation's own quantization (before vs after its QDQ pair), lowest = worst."""
    import onnxruntime as ort
    from onnxruntime.quantization.qdq_loss_debug import (
        collect_activations,
        compute_activation_error,
        create_activation_matching,
        modify_model_output_intermediate_tensors,
    )

    with tempfile.TemporaryDirectory(prefix="onnpu-sensitivity-") as tmp:
        paths = {}
        for name, model in (("float", float_model), ("qdq", quant_model)):
            plain, augmented = Path(tmp) / f"{name}.onnx", Path(tmp) / f"{name}.aug.onnx"
            onnx.save(model, str(plain))
            modify_model_output_intermediate_tensors(str(plain), str(augmented))
            paths[name] = str(augmented)
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        so.log_severity_level = 3
        qdq = collect_activations(paths["qdq"], _Feeds(feeds), session_options=so,
                                  execution_providers=["CPUExecutionProvider"])
        flt = collect_activations(paths["float"], _Feeds(feeds), session_options=so,
                                  execution_providers=["CPUExecutionProvider"])
    errors = compute_activation_error(create_activation_matching(qdq, flt))
    return {name: float(err["qdq_err"]) for name, err in errors.items()
            if "qdq_err" in err and math.isfinite(float(err["qdq_err"]))}


def raise_to_target(float_model: onnx.ModelProto, quant: onnx.ModelProto, data: CalibrationData,
                    config: QuantizeConfig, target: float, result: QuantizeResult,
                    progress: Progress | None) -> onnx.ModelProto:
    """Greedy rounds over the ranked activations; records each round in ``result`` and returns the model
    of the last round (the first that meets the target, or the one with every ranked tensor raised)."""
    from onnpu.quantizing import evaluate

    result.plain_bytes = quant.ByteSize()
    if config.activations == "u16":
        result.notes.append("activations are already 16-bit: --target-sqnr has nothing to raise")
        return quant
    if result.quality and result.worst_sqnr >= target:
        result.notes.append(f"plain quantization already meets {target} dB")
        return quant
    ranked = sorted(sensitivity(float_model, quant, data.calibration[:SENSITIVITY_SAMPLES]).items(),
                    key=lambda kv: kv[1])
    names = [n for n, _ in ranked]
    best = quant
    for round_index, share in enumerate(SCHEDULE, 1):
        count = max(1, math.ceil(len(names) * share))
        raised = names[:count]
        if progress:
            progress("mixed precision", round_index, len(SCHEDULE))
        candidate = quantize_qdq_model(float_model, data.calibration, config, sixteen_bit=raised)
        quality = evaluate(float_model, candidate, data.heldout)
        worst = min(q.sqnr_db for q in quality) if quality else float("nan")
        from onnpu.quantizing import MixedPrecisionStep

        result.steps.append(MixedPrecisionStep(raised, worst))
        best, result.quality, result.sixteen_bit = candidate, quality, raised
        if worst >= target or count == len(names):
            break
    if result.worst_sqnr < target:
        result.notes.append(f"target {target} dB not reached: {result.worst_sqnr:.2f} dB with "
                            f"{len(result.sixteen_bit)} of {len(names)} activations at 16 bits")
    return best
