"""``run``: feed a model real or generated inputs on a target and report what ran where."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from onnpu.errors import InputDataError
from onnpu.inspection import TensorInfo, tensor_infos
from onnpu.placement import PlacementSummary
from onnpu.qparams import dequantize, quantize_array
from onnpu.session import LoadedSession
from onnpu.targets import Target


@dataclass
class RunResult:
    model: str
    target: Target
    outputs: dict[str, np.ndarray]
    providers: list[str]
    placement: PlacementSummary | None
    session_seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "target": self.target.describe(), "providers": self.providers,
            "placement": self.placement.to_dict() if self.placement else None,
            "session_seconds": self.session_seconds, "latencies_ms": self.latencies_ms,
            "outputs": {k: {"shape": list(v.shape), "dtype": str(v.dtype),
                            "min": float(v.min()) if v.size else None, "max": float(v.max()) if v.size else None,
                            "mean": float(v.astype(np.float64).mean()) if v.size else None}
                        for k, v in self.outputs.items()},
            "notes": self.notes,
        }


def load_arrays(specs: Mapping[str, str | Path]) -> dict[str, np.ndarray]:
    """``{input name: .npy or .npz path}``; an .npz given for name ``*`` supplies inputs by its keys."""
    arrays: dict[str, np.ndarray] = {}
    for name, path in specs.items():
        p = Path(path)
        if not p.is_file():
            raise InputDataError(f"{p}: input file not found", hint="give --input NAME=path/to/array.npy")
        try:
            data = np.load(p, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise InputDataError(f"{p}: not a readable .npy/.npz file ({exc})",
                                 hint="save arrays with numpy.save or numpy.savez") from exc
        if isinstance(data, np.lib.npyio.NpzFile):
            with data:
                if name == "*":
                    arrays.update({k: data[k] for k in data.files})
                elif name in data.files:
                    arrays[name] = data[name]
                elif len(data.files) == 1:
                    arrays[name] = data[data.files[0]]
                else:
                    raise InputDataError(f"{p}: has arrays {data.files}, none named {name!r}",
                                         hint=f"name the array {name!r} in the .npz")
        else:
            arrays[name] = data
    return arrays


def resolved_shape(info: TensorInfo, dims: Mapping[str, int] | None) -> list[int]:
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


def random_inputs(infos: list[TensorInfo], seed: int, dims: Mapping[str, int] | None = None) -> dict[str, np.ndarray]:
    """Seeded inputs: floats uniform in [0, 1) (quantized later if the input is), integers over their range."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for info in infos:
        shape = resolved_shape(info, dims)
        dtype = info.numpy_dtype
        if np.issubdtype(dtype, np.floating):
            out[info.name] = rng.random(shape, dtype=np.float32).astype(dtype)
        elif info.quant is not None:
            out[info.name] = rng.random(shape, dtype=np.float32)  # quantized with the model's parameters
        elif dtype == np.bool_:
            out[info.name] = rng.integers(0, 2, shape).astype(bool)
        else:
            info_i = np.iinfo(dtype)
            out[info.name] = rng.integers(max(info_i.min, 0), min(info_i.max, 255), shape, endpoint=True).astype(dtype)
    return out


def float_view(info: TensorInfo) -> TensorInfo:
    """The float view of an input: data for a quantized input is prepared in float, then quantized."""
    return TensorInfo(info.name, "float", info.shape, None)


def output_as_float(info: TensorInfo, value: Any) -> np.ndarray:
    """An output value in float: an integer output is dequantized with its own parameters."""
    v = np.asarray(value)
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
            elif np.issubdtype(a.dtype, np.floating) and np.issubdtype(want, np.floating):
                a = a.astype(want)
            else:
                raise InputDataError(f"{model}: input {name!r} has dtype {a.dtype}, the model expects {want}",
                                     hint=f"save the array as {want}")
        feeds[name] = np.ascontiguousarray(a)
    return feeds, notes


def run_model(model: str | Path, target: Target, *, inputs: Mapping[str, np.ndarray] | None = None,
              seed: int = 0, dims: Mapping[str, int] | None = None, iterations: int = 1,
              session: LoadedSession | None = None, cache: bool = False) -> RunResult:
    """Run ``model`` once (or ``iterations`` times, for timing) on ``target``.

    Without ``inputs`` the inputs are random (seeded). Float data for a quantized input is quantized with
    the model's own parameters. The result names the providers that really ran nodes. ``cache`` loads the
    compiled NPU context from the cache (building it on first use).
    """
    if session is None:
        from onnpu.context_cache import open_session

        session = open_session(model, target, dims=dims, cache=cache)
    loaded = session
    infos, _ = tensor_infos(loaded.proto)
    arrays = dict(inputs) if inputs is not None else random_inputs(infos, seed, dims)
    feeds, notes = prepare_feeds(infos, arrays, str(model), dims)
    names = [o.name for o in loaded.session.get_outputs()]
    latencies = []
    values: list[Any] = []
    for _ in range(max(1, iterations)):
        start = time.perf_counter()
        try:
            values = loaded.run(feeds)
        except Exception as exc:  # ORT raises InvalidArgument/Fail for data the graph rejects
            raise InputDataError(f"{model}: onnxruntime rejected the inputs: {str(exc).splitlines()[0][:300]}",
                                 hint="check input shapes and dtypes with `onnpu inspect`") from exc
        latencies.append((time.perf_counter() - start) * 1000)
    if inputs is None:
        notes.insert(0, f"random inputs, seed {seed}")
    return RunResult(str(model), target, dict(zip(names, values, strict=False)), loaded.providers, loaded.placement,
                     loaded.create_seconds, latencies, notes)
