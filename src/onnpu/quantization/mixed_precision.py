"""Mixed precision: find the activations whose 8-bit quantization hurts most (ONNX Runtime's
``qdq_loss_debug``) and raise them to uint16, which the QNN HTP runs, until a target SQNR is met."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from onnpu import progress
from onnpu.metrics import OutputQuality
from onnpu.model.files import write_model
from onnpu.quantization.calibration import CalibrationData
from onnpu.quantization.config import QuantizeConfig
from onnpu.quantization.evaluate import evaluate
from onnpu.quantization.recipe import FeedReader, quantize_qdq_model
from onnpu.runtime.session import exact_session_options
from onnpu.storage import scratch_dir

SCHEDULE = (0.05, 0.1, 0.2, 0.4, 1.0)  # cumulative share of the ranked activations raised per round
SENSITIVITY_SAMPLES = 4


@dataclass
class MixedPrecisionStep:
    raised: list[str]
    sqnr_db: float


@dataclass
class MixedPrecisionOutcome:
    """The model of the last round (the first that meets the target, or the one with every ranked tensor
    raised), each round, and the quality and 16-bit tensors of that model."""

    model: onnx.ModelProto
    steps: list[MixedPrecisionStep] = field(default_factory=list)
    quality: list[OutputQuality] = field(default_factory=list)
    sixteen_bit: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def sensitivity(float_model: onnx.ModelProto, quant_model: onnx.ModelProto,
                feeds: Sequence[Mapping[str, np.ndarray]]) -> dict[str, float]:
    """SQNR (dB) of each activation's own quantization (before vs after its QDQ pair), lowest = worst."""
    from onnxruntime.quantization.qdq_loss_debug import (
        collect_activations,
        compute_activation_error,
        create_activation_matching,
        modify_model_output_intermediate_tensors,
    )

    with scratch_dir("onnpu-sensitivity-") as tmp:
        paths = {}
        for name, model in (("float", float_model), ("qdq", quant_model)):
            plain, augmented = Path(tmp) / f"{name}.onnx", Path(tmp) / f"{name}.aug.onnx"
            write_model(model, plain, force=True)
            modify_model_output_intermediate_tensors(str(plain), str(augmented))
            paths[name] = str(augmented)
        so = exact_session_options()
        qdq = collect_activations(paths["qdq"], FeedReader(feeds), session_options=so,
                                  execution_providers=["CPUExecutionProvider"])
        flt = collect_activations(paths["float"], FeedReader(feeds), session_options=so,
                                  execution_providers=["CPUExecutionProvider"])
    errors = compute_activation_error(create_activation_matching(qdq, flt))
    return {name: float(err["qdq_err"]) for name, err in errors.items()
            if "qdq_err" in err and math.isfinite(float(err["qdq_err"]))}


def _worst(quality: Sequence[OutputQuality]) -> float:
    return min((q.sqnr_db for q in quality), default=float("nan"))


def raise_to_target(float_model: onnx.ModelProto, quant: onnx.ModelProto, data: CalibrationData,
                    config: QuantizeConfig, target: float, quality: Sequence[OutputQuality], *,
                    reference: Mapping[str, list[np.ndarray]] | None = None,
                    keep: Sequence[str] = ()) -> MixedPrecisionOutcome:
    """Greedy rounds over the activations ranked by sensitivity, raising the worst to uint16 until the held-out
    SQNR meets ``target`` (``quality`` is the plain model's; ``reference`` the float outputs on the held-out
    inputs, as for ``evaluate``). ``keep``: activations ``quant`` already holds in 16 bits (a detection head's),
    kept in 16 bits in every round."""
    outcome = MixedPrecisionOutcome(quant, quality=list(quality), sixteen_bit=list(keep))
    if config.activations == "u16":
        outcome.notes.append("activations are already 16-bit: --target-sqnr has nothing to raise")
        return outcome
    if quality and _worst(quality) >= target:
        outcome.notes.append(f"plain quantization already meets {target} dB")
        return outcome
    ranked = sorted(sensitivity(float_model, quant, data.calibration[:SENSITIVITY_SAMPLES]).items(),
                    key=lambda kv: kv[1])
    names = [n for n, _ in ranked if n not in keep]
    for round_index, share in enumerate(SCHEDULE, 1):
        count = max(1, math.ceil(len(names) * share))
        raised = [*keep, *names[:count]]
        progress.advance("mixed precision", round_index, len(SCHEDULE))
        candidate = quantize_qdq_model(float_model, data.calibration, config, sixteen_bit=raised)
        round_quality = evaluate(float_model, candidate, data.heldout, reference)
        worst = _worst(round_quality)
        outcome.steps.append(MixedPrecisionStep(raised, worst))
        outcome.model, outcome.quality, outcome.sixteen_bit = candidate, round_quality, raised
        if worst >= target or count == len(names):
            break
    if _worst(outcome.quality) < target:
        outcome.notes.append(f"target {target} dB not reached: {_worst(outcome.quality):.2f} dB with "
                             f"{len(outcome.sixteen_bit)} of {len(names) + len(keep)} activations at 16 bits")
    return outcome
