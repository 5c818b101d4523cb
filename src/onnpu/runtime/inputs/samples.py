"""The one samples format: an ``.npz`` with one array per model input, samples stacked on axis 0 (an array of
the input's own rank is one sample per batch); an ``.npy`` for a one-input model; a folder of such files (in
name order). Errors say what the file holds against what the model wants."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from onnpu.errors import InputDataError
from onnpu.guards import open_regular
from onnpu.model.inspection import TensorInfo

Feeds = dict[str, np.ndarray]
SAMPLE_SUFFIXES = (".npz", ".npy")


def sample_dtype(info: TensorInfo) -> np.dtype:
    """Float32 for float and quantized inputs (data for a quantized input is given in float); else the input's
    own integer or bool type (token ids, masks)."""
    dtype = info.numpy_dtype
    return np.dtype(np.float32) if info.quant is not None or np.issubdtype(dtype, np.floating) else dtype


def wanted(infos: list[TensorInfo]) -> str:
    """What the model wants, for messages: ``input_ids int64 [1, 128], attention_mask int64 [1, 128]``."""
    return ", ".join(f"{i.name} {i.numpy_dtype} {i.shape_text()}" for i in infos)


def _held(arrays: dict[str, np.ndarray]) -> str:
    return ", ".join(f"{k} {v.dtype} {list(v.shape)}" for k, v in arrays.items()) or "no arrays"


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an .npy (under the name "") or .npz file, read whole; anything else refused naming it."""
    with open_regular(path, "samples file") as f:  # a FIFO or a device is refused by name, never waited on
        try:
            data = np.load(f, allow_pickle=False)
            if isinstance(data, np.lib.npyio.NpzFile):
                with data:
                    return {k: data[k] for k in data.files}
            return {"": np.asarray(data)}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:  # object arrays, damaged zips
            raise InputDataError(f"{path}: not a readable .npy/.npz file ({exc})",
                                 hint="save arrays with numpy.save or numpy.savez") from exc


def _named(path: Path, arrays: dict[str, np.ndarray], infos: list[TensorInfo]) -> dict[str, np.ndarray]:
    if set(arrays) == {""}:
        if len(infos) != 1:
            raise InputDataError(f"{path}: an .npy holds one array ({_held({'array': arrays['']})}); the model has "
                                 f"{len(infos)} inputs: {wanted(infos)}",
                                 hint="give an .npz with one array per input, named after it")
        return {infos[0].name: arrays[""]}
    missing = [i.name for i in infos if i.name not in arrays]
    if missing:
        raise InputDataError(f"{path}: holds {_held(arrays)}; the model wants {wanted(infos)} (no array named "
                             f"{missing[0]!r})", hint="name each array after a model input; stack samples on axis 0")
    return {i.name: arrays[i.name] for i in infos}


def split_samples(path: Path, arrays: dict[str, np.ndarray], infos: list[TensorInfo]) -> list[Feeds]:
    """Arrays named after the inputs → one feed per sample (stacked on axis 0, or along the batch axis when an
    array has the input's own rank)."""
    counts = {}
    for info in infos:
        rank, a = len(info.shape), arrays[info.name]
        batch = info.shape[0] if info.shape and isinstance(info.shape[0], int) else 1
        if a.ndim == rank and rank:
            counts[info.name] = a.shape[0] // max(1, batch)
        elif a.ndim == rank + 1:
            counts[info.name] = a.shape[0]
        else:
            raise InputDataError(f"{path}: array {info.name!r} is {a.dtype} {list(a.shape)}; the input is "
                                 f"{info.numpy_dtype} {info.shape_text()}",
                                 hint="stack samples of the input's shape on a new axis 0")
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"{k}: {v}" for k, v in counts.items())
        raise InputDataError(f"{path}: the arrays hold different numbers of samples ({listed})",
                             hint="give as many samples of each input")
    n = next(iter(counts.values()), 0)
    feeds = []
    for k in range(n):
        sample = {}
        for info in infos:
            a = arrays[info.name]
            if a.ndim == len(info.shape) and info.shape:
                b = info.shape[0] if isinstance(info.shape[0], int) else 1
                part = a[k * b:(k + 1) * b]
            else:
                part = a[k]
            sample[info.name] = _typed(path, info, np.ascontiguousarray(part))
        feeds.append(sample)
    return feeds


def _typed(path: Path, info: TensorInfo, a: np.ndarray) -> np.ndarray:
    want = sample_dtype(info)
    if a.dtype == want:
        return a
    floating = np.issubdtype(a.dtype, np.floating)
    if np.issubdtype(want, np.floating) and (floating or np.issubdtype(a.dtype, np.integer)):
        return a.astype(want)
    integral = a.size == 0 or (np.all(np.isfinite(a)) and np.all(a == np.round(a))) if floating else True
    if want == np.bool_:
        fits = a.size == 0 or bool(np.all((a == 0) | (a == 1)))
    elif np.issubdtype(a.dtype, np.number) and integral:
        limits = np.iinfo(want)
        fits = a.size == 0 or bool(limits.min <= a.min() and a.max() <= limits.max)
    else:
        fits = False
    if not fits:
        span = f", values {a.min()!s}..{a.max()!s}" if a.size and np.issubdtype(a.dtype, np.number) else ""
        raise InputDataError(f"{path}: array {info.name!r} is {a.dtype}{span}; the input wants {want}",
                             hint=f"save {info.name!r} as {want} (numpy: array.astype(np.{want}))")
    return a.astype(want)


def load_samples(path: Path, infos: list[TensorInfo]) -> tuple[list[Feeds], list[str]]:
    """Feeds and their names from an ``.npz``, an ``.npy`` (one-input model) or a folder of them."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if not p.is_dir() and p.suffix.lower() in SAMPLE_SUFFIXES)
        if not files:
            raise InputDataError(f"{path}: no .npz/.npy files in this folder",
                                 hint="give images, .npz/.npy samples, or `random`")
    else:
        files = [path]
    feeds: list[Feeds] = []
    names: list[str] = []
    for f in files:
        part = split_samples(f, _named(f, read_arrays(f), infos), infos)
        label = f.name if f == path else str(f.relative_to(path))
        feeds.extend(part)
        names.extend(f"{label}[{k}]" for k in range(len(part)))
    return feeds, names
