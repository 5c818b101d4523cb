"""How a float model is quantized for the HTP: activation and weight types, per-channel weights, the
calibration method, the weight rounding. Plain data, cheap to import (the CLI builds its choices from it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from onnpu.errors import QuantizationError

ACTIVATION_TYPES = {"u8": "QUInt8", "u16": "QUInt16"}
AUTO = "auto"  # activations: u16 for transformer encoders (W8A16), u8 for the rest (quantization.transformer)
WEIGHT_TYPES = {"u8": "QUInt8", "i8": "QInt8"}
METHODS = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}


@dataclass(frozen=True)
class QuantizeConfig:
    activations: str = AUTO
    weights: str = "i8"
    per_channel: bool = True
    method: str = "minmax"
    rounding: str = "optimized"  # second-order rounding of the weights (onnpu.rounding), or "nearest"
    bias_correction: bool = True
    range_search: bool = True  # activation ranges of least MSE on the calibration inputs (else their min/max)
    equalize: bool = False  # cross-layer equalisation of Conv pairs first (onnpu.quantization.equalization)

    def __post_init__(self) -> None:
        if self.rounding not in ("nearest", "optimized"):
            raise QuantizationError(f"unknown --rounding value {self.rounding!r}",
                                    hint="--rounding takes nearest or optimized")
        for value, table, flag in ((self.activations, {AUTO: "", **ACTIVATION_TYPES}, "--activations"),
                                   (self.weights, WEIGHT_TYPES, "--weights"), (self.method, METHODS, "--method")):
            if value not in table:
                raise QuantizationError(f"unknown {flag} value {value!r}", hint=f"{flag} takes " + ", ".join(table))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_QUANTIZE = QuantizeConfig()
