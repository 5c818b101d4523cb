"""Seeded random inputs in the range each input's kind calls for (:mod:`onnpu.runtime.inputs.kinds`): token ids
inside the table, masks 0/1 (a prefix of ones per row, as padding makes them), positions counting up, waveforms in
[-1, 1], quantized inputs over their representable range (given in float and quantized by the feeder)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from onnpu.errors import InputDataError
from onnpu.model.inspection import TensorInfo, tensor_infos
from onnpu.runtime.inputs.feedable import check_feedable
from onnpu.runtime.inputs.kinds import InputKind, input_kinds

if TYPE_CHECKING:
    import onnx


def resolved_shape(info: TensorInfo, dims: Mapping[str, int] | None) -> list[int]:
    """The input's shape with its symbolic dims fixed by ``dims``; an error naming the first one left open."""
    shape = []
    for d in info.shape:
        if isinstance(d, int):
            shape.append(d)
        elif isinstance(d, str) and dims and d in dims:
            shape.append(int(dims[d]))
        else:
            raise InputDataError(f"input {info.name!r} has a dynamic dimension {d or '?'} that random data cannot "
                                 "fill", hint=f"fix it with --dim {d or 'NAME'}=VALUE")
    return shape


def _mask(rng: np.random.Generator, shape: list[int]) -> np.ndarray:
    """1 for the first L positions of each row (L random, at least 1), 0 after: real padding masks."""
    if not shape or shape[-1] <= 1:
        return np.ones(shape, np.int64)
    rows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    lengths = rng.integers(1, shape[-1] + 1, rows)
    mask = (np.arange(shape[-1])[None, :] < lengths[:, None]).astype(np.int64)
    return mask.reshape(shape)


def _values(rng: np.random.Generator, info: TensorInfo, kind: InputKind, shape: list[int]) -> np.ndarray:
    dtype = info.numpy_dtype
    floating = np.issubdtype(dtype, np.floating) or info.quant is not None
    if kind.kind == "mask":
        return _mask(rng, shape).astype(bool if dtype == np.bool_ else (np.float32 if floating else dtype))
    if kind.kind == "positions" and shape:
        count = np.arange(shape[-1]) % (int(kind.high) + 1)
        return np.broadcast_to(count, shape).astype(dtype).copy()
    if dtype == np.bool_:
        return (rng.integers(int(kind.low), int(kind.high), shape, endpoint=True) != 0)
    if floating:
        out_type = dtype if np.issubdtype(dtype, np.floating) else np.float32  # quantized: float, then quantized
        if kind.low == kind.high:
            return np.full(shape, kind.low, out_type)
        return (kind.low + (kind.high - kind.low) * rng.random(shape, dtype=np.float32)).astype(out_type)
    limits = np.iinfo(dtype)
    low, high = max(int(np.ceil(kind.low)), limits.min), min(int(np.floor(kind.high)), limits.max)
    return rng.integers(low, max(low, high), shape, endpoint=True).astype(dtype)


def random_inputs(infos: list[TensorInfo], seed: int, dims: Mapping[str, int] | None = None, *,
                  kinds: Mapping[str, InputKind] | None = None,
                  ranges: Mapping[str, tuple[int, int]] | None = None) -> dict[str, np.ndarray]:
    """Seeded inputs for ``infos``, each in the range of its kind (``kinds``, from :func:`input_kinds`); an input
    without a kind: floats in [0, 1), integers in ``ranges[name]`` (half-open) or 0..255, bools 0/1. Float data
    for a quantized input (quantized later with the model's own parameters)."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for info in infos:
        shape = resolved_shape(info, dims)
        dtype = check_feedable(info, shape)
        kind = (kinds or {}).get(info.name)
        if kind is None:
            if np.issubdtype(dtype, np.floating) or info.quant is not None:
                kind = InputKind(info.name, "values", 0.0, 1.0)
            elif dtype == np.bool_:
                kind = InputKind(info.name, "values", 0, 1)
            elif ranges and info.name in ranges:
                low, high = ranges[info.name]
                kind = InputKind(info.name, "values", low, max(high - 1, low))
            else:
                limits = np.iinfo(dtype)
                kind = InputKind(info.name, "values", max(limits.min, 0), min(limits.max, 255))
        out[info.name] = _values(rng, info, kind, shape)
    return out


def random_feeds(model: onnx.ModelProto, count: int, seed: int = 0, dims: Mapping[str, int] | None = None, *,
                 infos: list[TensorInfo] | None = None, declared: Mapping[str, tuple[float, float]] | None = None,
                 overrides: Mapping[str, tuple[float, float]] | None = None) -> list[dict[str, np.ndarray]]:
    """``count`` seeded feeds for ``model`` (seeds ``seed``, ``seed + 1``, …), each input in the range its kind
    calls for (see :func:`input_kinds` for ``declared`` and ``overrides``)."""
    infos = infos if infos is not None else tensor_infos(model)[0]
    kinds = input_kinds(model, infos=infos, declared=declared, overrides=overrides, dims=dims)
    return [random_inputs(infos, seed + k, dims, kinds=kinds) for k in range(count)]
