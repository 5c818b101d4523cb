"""Feeds in and float outputs out: arrays from .npy/.npz files, seeded random inputs, checks of names,
shapes and dtypes, float data quantized for quantized inputs with the model's own parameters, quantized
outputs dequantized, and running a session over many feeds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from onnpu.errors import InputDataError
from onnpu.model.inspection import TensorInfo, tensor_infos
from onnpu.model.qparams import dequantize, quantize_array
from onnpu.runtime.inputs import random_feeds, random_inputs
from onnpu.runtime.inputs.feedable import check_container, check_feedable
from onnpu.runtime.inputs.samples import read_arrays
from onnpu.runtime.session import LoadedSession

if TYPE_CHECKING:
    import onnx

__all__ = ["align_by_position", "float_outputs", "float_view", "load_arrays", "output_as_float", "pair_outputs",
           "prepare_feeds", "random_inputs", "readable_output", "run_feeds"]


def load_arrays(specs: Mapping[str, str | Path]) -> dict[str, np.ndarray]:
    """``{input name: .npy or .npz path}``; an .npz given for name ``*`` supplies inputs by its keys."""
    arrays: dict[str, np.ndarray] = {}
    for name, path in specs.items():
        p = Path(path)
        if not p.exists() and not p.is_symlink():
            raise InputDataError(f"{p}: input file not found", hint="give --input NAME=path/to/array.npy")
        data = read_arrays(p)  # a FIFO or a device refused by name; object arrays and damaged zips too
        if set(data) == {""}:
            arrays[name] = data[""]
        elif name == "*":
            arrays.update(data)
        elif name in data:
            arrays[name] = data[name]
        elif len(data) == 1:
            arrays[name] = next(iter(data.values()))
        else:
            raise InputDataError(f"{p}: has arrays {list(data)}, none named {name!r}",
                                 hint=f"name the array {name!r} in the .npz")
    return arrays


def float_view(info: TensorInfo) -> TensorInfo:
    """The float view of an input: data for a quantized input is prepared in float, then quantized."""
    return TensorInfo(info.name, "float", info.shape, None)


NOT_A_TENSOR_HINT = ("export the model with tensor outputs (skl2onnx: options={id(model): {'zipmap': False}}; "
                     "torch: return tensors, not lists or dicts)")


def readable_output(name: str, value: Any) -> tuple[np.ndarray, str | None]:
    """An output as an array, and a note when it was not one: a sequence of maps (a ZipMap's class → score per
    row) becomes [rows, classes] in its keys' order, a sequence of same-shaped tensors is stacked, a map becomes
    its values. Anything else is refused naming the output."""
    if isinstance(value, np.ndarray):
        return value, None
    if isinstance(value, dict):
        value = [value]
        what = "a map"
    else:
        what = "a sequence of maps"
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        keys = list(value[0])
        if all(list(v) == keys for v in value):
            rows = np.asarray([[v[k] for k in keys] for v in value])
            if rows.dtype.kind in "biuf":
                shown = ", ".join(map(str, keys[:6])) + (", …" if len(keys) > 6 else "")
                return rows, f"output {name!r} is {what} (keys {shown}): read as {list(rows.shape)}, one column per key"
    elif isinstance(value, list) and value and all(isinstance(v, np.ndarray) for v in value) and \
            len({(v.shape, v.dtype) for v in value}) == 1:
        stacked = np.stack(value)
        return stacked, f"output {name!r} is a sequence of {len(value)} tensors: read stacked as {list(stacked.shape)}"
    elif isinstance(value, (list, tuple)) and not value:
        return np.zeros((0,), np.float32), f"output {name!r} is an empty sequence"
    raise InputDataError(f"output {name!r} is a {type(value).__name__} onnpu cannot read as one tensor "
                         "(a sequence of tensors of different shapes, or of maps with different keys)",
                         hint=NOT_A_TENSOR_HINT)


def output_as_float(info: TensorInfo, value: Any) -> np.ndarray:
    """An output value in float: an integer output is dequantized with its own parameters; a sequence or map
    as ``readable_output`` reads it; text is refused (nothing to measure it by)."""
    v, _ = readable_output(info.name, value)
    if v.dtype.kind in "USOT":
        raise InputDataError(f"output {info.name!r} holds text ({info.elem_type}): onnpu measures numeric outputs",
                             hint="export the model with numeric outputs (class indices, not label strings)")
    if not np.issubdtype(v.dtype, np.floating) and info.quant is not None:
        v = dequantize(v, info.quant)
    return v.astype(np.float32)


def align_by_position(data: Mapping[str, np.ndarray], names: list[str]) -> dict[str, np.ndarray]:
    """Data named after another model's inputs, renamed for this one when the names differ but the count
    matches (e.g. a float model's ``x`` and its uint8 twin's ``image_u8``)."""
    if set(data) == set(names) or len(data) != len(names):
        return dict(data)
    return dict(zip(names, data.values(), strict=True))


def pair_outputs(a: Mapping[str, np.ndarray | list[np.ndarray]], b: Mapping[str, np.ndarray | list[np.ndarray]]
                 ) -> list[tuple[str, str, str]]:
    """(label, name in a, name in b) for the outputs two models share, by name or else by position."""
    shared = [n for n in a if n in b]
    if shared:
        return [(n, n, n) for n in shared]
    if len(a) == len(b):
        return [(f"{x} ↔ {y}", x, y) for x, y in zip(a, b, strict=True)]
    return []


def prepare_feeds(infos: list[TensorInfo], arrays: Mapping[str, np.ndarray], model: str,
                  dims: Mapping[str, int] | None = None) -> tuple[dict[str, np.ndarray], list[str]]:
    """Check names, shapes and dtypes; quantize float data for quantized inputs with the model's own
    parameters. Returns the feeds and notes on what was converted."""
    by_name = {i.name: i for i in infos}
    notes: list[str] = []
    for info in infos:
        check_container(info, model)
    unknown = [n for n in arrays if n not in by_name]
    if unknown:
        raise InputDataError(f"{model}: no input named {unknown[0]!r}",
                             hint="the model's inputs are: " + ", ".join(by_name))
    missing = [n for n in by_name if n not in arrays]
    if missing:
        raise InputDataError(f"{model}: input {missing[0]!r} was not given",
                             hint=f"give it with --input {missing[0]}=file.npy, or use --random")
    feeds: dict[str, np.ndarray] = {}
    for name, array in arrays.items():
        info = by_name[name]
        want = info.numpy_dtype
        a = np.asarray(array)
        if np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a)):
            raise InputDataError(f"{model}: input {name!r} contains NaN or Inf values",
                                 hint="check the input data for missing or invalid values")
        fixed_mismatch = any(isinstance(d, int) and d != s for d, s in zip(info.shape, a.shape, strict=False))
        if len(a.shape) != len(info.shape) or fixed_mismatch:
            raise InputDataError(f"{model}: input {name!r} has shape {list(a.shape)}, the model expects "
                                 f"{info.shape_text()}", hint="reshape the data to the model's input shape")
        if a.dtype != want:
            if np.issubdtype(a.dtype, np.floating) and info.quant is not None and not np.issubdtype(want, np.floating):
                a = quantize_array(a, info.quant)
                notes.append(f"input {name!r} quantized to {want} with the model's scale "
                             f"{info.quant.scale[0]:.6g} and zero point {info.quant.zero_point[0]} "
                             f"({info.quant.source})")
            elif (np.issubdtype(a.dtype, np.floating) and np.issubdtype(want, np.floating)) or _fits(a, want):
                a = a.astype(want)
            elif want.kind not in "biuf":  # text, complex …: no data onnpu gives fits, said as such
                try:
                    check_feedable(info)
                except InputDataError as exc:
                    exc.message = f"{model}: {exc.message}"
                    raise
            else:
                raise InputDataError(f"{model}: input {name!r} has dtype {a.dtype}, the model expects {want} (the "
                                     f"data: {a.dtype} {list(a.shape)}{_range_text(a)}; the model: {want} "
                                     f"{info.shape_text()})",
                                     hint=f"give {want} data for {name!r} (numpy: array.astype(np.{want}))")
        feeds[name] = np.ascontiguousarray(a)
    return feeds, notes


def _fits(a: np.ndarray, want: np.dtype) -> bool:
    """Integer or bool data that converts to the integer or bool type ``want`` without changing a value."""
    kinds = (np.integer, np.bool_)
    if not (any(np.issubdtype(a.dtype, k) for k in kinds) and any(np.issubdtype(want, k) for k in kinds)):
        return False
    if not a.size:
        return True
    if want == np.bool_:
        return bool(np.all((a == 0) | (a == 1)))
    limits = np.iinfo(want)
    return bool(limits.min <= a.min() and a.max() <= limits.max)


def _range_text(a: np.ndarray) -> str:
    if not a.size or not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        return ""
    return f", values {a.min()!s}..{a.max()!s}"


def float_outputs(loaded: LoadedSession, values: list[Any]) -> dict[str, np.ndarray]:
    """One run's outputs by name, in float (quantized outputs dequantized with their own parameters)."""
    _, outs = tensor_infos(loaded.proto)
    return {info.name: output_as_float(info, value) for info, value in zip(outs, values, strict=True)}


def run_feeds(loaded: LoadedSession, feeds: Iterable[Mapping[str, np.ndarray]], *, model: str | None = None,
              dims: Mapping[str, int] | None = None) -> dict[str, list[np.ndarray]]:
    """Run ``loaded`` on every feed (named after this model's inputs, or another model's, matched by
    position) and collect each output in float, per feed."""
    inputs, outputs = tensor_infos(loaded.proto)
    names = [i.name for i in inputs]
    result: dict[str, list[np.ndarray]] = {o.name: [] for o in outputs}
    for feed in feeds:
        prepared, _ = prepare_feeds(inputs, align_by_position(feed, names), model or str(loaded.model_path), dims)
        for info, value in zip(outputs, loaded.run(prepared), strict=True):
            result[info.name].append(output_as_float(info, value))
    return result


def runs_once_on_cpu(model: onnx.ModelProto) -> None:
    """Run ``model`` once on the CPU on seeded inputs of its (fixed) shapes; whatever ONNX Runtime raises is
    raised (a graph that cannot take the shapes it declares)."""
    from onnpu.runtime.session import create_session
    from onnpu.runtime.targets import get_target

    loaded = create_session(model, get_target("cpu"))
    inputs, outputs = tensor_infos(loaded.proto)
    feeds, _ = prepare_feeds(inputs, random_feeds(loaded.proto, 1, infos=inputs)[0], "model")
    loaded.run(feeds, [o.name for o in outputs])
