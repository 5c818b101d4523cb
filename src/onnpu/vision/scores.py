"""A classifier's output as class scores: dequantized with its own parameters when quantized, softmax when
it holds logits, and the top-k."""

from __future__ import annotations

import numpy as np

from onnpu.errors import InputDataError
from onnpu.model.inspection import TensorInfo
from onnpu.model.qparams import dequantize


def is_probability(v: np.ndarray, tol: float = 1e-2) -> bool:
    """True when every row is already a probability vector (non-negative, summing to 1)."""
    return bool(np.all(v >= -1e-6) and np.allclose(v.sum(axis=-1), 1.0, atol=tol))


def softmax(v: np.ndarray) -> np.ndarray:
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def scores_from_output(raw: np.ndarray, info: TensorInfo, use_softmax: bool | None) -> tuple[np.ndarray, bool, bool]:
    """Dequantize a quantized output with its own parameters, then softmax unless already probabilities.
    Returns (scores of shape [classes], softmax applied, dequantized)."""
    dequantized = False
    values = raw
    if not np.issubdtype(raw.dtype, np.floating):
        if info.quant is None:
            raise InputDataError(f"output {info.name!r} is {raw.dtype} but the model carries no quantization "
                                 "parameters for it", hint="re-export the model with its output DequantizeLinear")
        values = dequantize(raw, info.quant)
        dequantized = True
    values = values.reshape(-1, values.shape[-1])[0].astype(np.float32)
    apply = (not is_probability(values)) if use_softmax is None else use_softmax
    return (softmax(values) if apply else values), apply, dequantized
