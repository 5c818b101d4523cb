"""What to do about the layers that lose accuracy, from what each layer's loss is made of: its activation's
rounding to 8 bits (→ 16-bit activations, ``quantize --target-sqnr``), values beyond the calibrated range
(→ calibration inputs and method), or the rest — the op's weights and arithmetic (→ optimised rounding,
per-channel weights)."""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Mapping
from pathlib import Path

from onnpu.measure.layers.result import Advice, LayerRow

ROUNDING, CLIPPING, WEIGHTS = "activation rounding", "clipping", "weights / arithmetic"


def cause(own: float, rounding: float, clipping: float) -> str | None:
    """The largest part of the noise a layer makes itself (``own``): its activation's rounding, clipping to
    the quantized range, or the rest (the op's quantized weights and arithmetic)."""
    if not math.isfinite(own) or own <= 0:
        return None
    parts = {ROUNDING: rounding, CLIPPING: clipping, WEIGHTS: own - rounding - clipping}
    return max(parts, key=lambda k: parts[k])


def _quantize_command(reference: str, inputs: str, config: Mapping[str, object], extra: list[str]) -> str:
    out = Path(reference).with_suffix("").name + ".fixed.onnx"
    args = ["onnpu", "quantize", reference, "-o", out, "--calib", inputs]
    for key, flag in (("activations", "--activations"), ("weights", "--weights"), ("method", "--method"),
                      ("rounding", "--rounding")):
        if key in config and f"{flag}" not in extra:
            args += [flag, str(config[key])]
    if config.get("per_channel") is False and "--per-channel" not in extra:
        args.append("--no-per-channel")
    if config.get("io") == "uint8":
        args += ["--io", "uint8"]
    return shlex.join(args + extra)


def quantization_config(metadata: Mapping[str, str]) -> dict[str, object]:
    """How onnpu quantized the model, from its metadata (empty for models quantized elsewhere)."""
    try:
        data = json.loads(metadata.get("onnpu.quantization", "{}"))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def advise(rows: list[LayerRow], top: list[int], reference: str | None, inputs: str,
           config: Mapping[str, object], final_sqnr: float | None, real_data: str = "SAMPLES.npz") -> list[Advice]:
    """``real_data``: what the command should calibrate on instead of random inputs (photos for an image model,
    a samples file otherwise)."""
    worst = [rows[i] for i in top]
    advice: list[Advice] = []
    if reference is None or not worst:
        return advice
    rounding = [r for r in worst if r.cause == ROUNDING and r.dtype in ("uint8", "int8")]
    clipping = [r for r in worst if r.cause == CLIPPING]
    weights = [r for r in worst if r.cause == WEIGHTS]
    if rounding:
        target = math.ceil(final_sqnr + 3) if final_sqnr is not None and math.isfinite(final_sqnr) else 30
        names = [r.name for r in rounding]
        advice.append(Advice(
            "sixteen_bit",
            f"{len(rounding)} of the {len(worst)} worst layers lose most to their activation's 8-bit rounding: "
            "16-bit activations there remove it (the HTP runs uint16). `quantize --target-sqnr` raises the "
            "activations of most measured gain per element round by round until the target is met; from Python, "
            "quantize_qdq_model(..., sixteen_bit=[these names]) raises exactly these.",
            names, _quantize_command(reference, inputs, config, ["--target-sqnr", str(target)])))
    if clipping:
        method = str(config.get("method", "minmax"))
        extra = ["--method", "minmax"] if method != "minmax" else []
        text = ("values beyond the calibrated range are clipped"
                + (f" (calibrated with --method {method}, which trims the range): calibrate with minmax"
                   if method != "minmax" else ": calibrate on more inputs like the real ones")
                + (" — the inputs here are random" if inputs == "random" else ""))
        advice.append(Advice("calibration", f"{len(clipping)} of the worst layers lose most to clipping: {text}.",
                             [r.name for r in clipping],
                             _quantize_command(reference, inputs if inputs != "random" else real_data, config, extra)))
    if weights:
        if config.get("rounding") != "optimized":
            text = ("the loss comes from the ops' weights and arithmetic, not from the activations: optimised "
                    "weight rounding (second-order, per layer) lowers it")
            extra = ["--rounding", "optimized"]
        elif config.get("per_channel") is False:
            text = "the loss comes from the ops' weights: per-channel weights lower it"
            extra = ["--per-channel"]
        else:
            text = ("the loss comes from the ops' weights and arithmetic (already per-channel with optimised "
                    "rounding): more calibration inputs for the rounding, or these layers in float on the CPU")
            extra = []
        advice.append(Advice("rounding", f"{len(weights)} of the worst layers: {text}.", [r.name for r in weights],
                             _quantize_command(reference, inputs, config, extra) if extra else None))
    return advice
