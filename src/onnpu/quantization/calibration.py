"""Calibration and evaluation inputs from a folder of images, an ``.npz`` of arrays, or ``random``; split
into calibration and held-out sets that never overlap."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from onnpu.errors import InputDataError
from onnpu.model.inspection import TensorInfo, tensor_infos
from onnpu.runtime.feeds import float_view, random_inputs
from onnpu.vision.images import IMAGE_SUFFIXES, load_image
from onnpu.vision.preprocess import PreprocessConfig, image_to_array, preprocess_for

Feeds = dict[str, np.ndarray]


@dataclass
class CalibrationData:
    source: str
    calibration: list[Feeds]
    heldout: list[Feeds]
    calibration_names: list[str]
    heldout_names: list[str]


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _split(groups: list[str], holdout: float, seed: int) -> tuple[list[int], list[int]]:
    """Split indices so that no group (e.g. the crops of one photo) is on both sides."""
    keys = sorted(set(groups))
    order = np.random.default_rng(seed).permutation(len(keys)).tolist()
    held_groups = max(1, round(len(keys) * holdout)) if holdout > 0 and len(keys) > 1 else 0
    held = {keys[i] for i in order[:held_groups]}
    return [i for i, g in enumerate(groups) if g not in held], [i for i, g in enumerate(groups) if g in held]


def _calibration_dtype(info: TensorInfo) -> np.dtype:
    """Float for float and quantized inputs (data for a quantized input is given in float); else the input's own
    integer or bool type (token ids, masks)."""
    dtype = info.numpy_dtype
    return np.dtype(np.float32) if info.quant is not None or np.issubdtype(dtype, np.floating) else dtype


def _from_npz(path: Path, infos: list[TensorInfo]) -> tuple[list[Feeds], list[str]]:
    with np.load(path, allow_pickle=False) as data:
        missing = [i.name for i in infos if i.name not in data.files]
        if missing:
            raise InputDataError(f"{path}: has arrays {data.files}, none named {missing[0]!r}",
                                 hint="name each array after a model input; stack samples on axis 0")
        arrays = {i.name: data[i.name] for i in infos}
    counts = set()
    for info in infos:
        rank = len(info.shape)
        a = arrays[info.name]
        if a.ndim == rank:  # samples stacked along the batch axis
            counts.add(a.shape[0] // max(1, info.shape[0] if isinstance(info.shape[0], int) else 1))
        elif a.ndim == rank + 1:
            counts.add(a.shape[0])
        else:
            raise InputDataError(f"{path}: array {info.name!r} has shape {list(a.shape)}, the input is "
                                 f"{info.shape_text()}", hint="stack samples of the input's shape on a new axis 0")
    if len(counts) != 1:
        raise InputDataError(f"{path}: the arrays hold different numbers of samples", hint="give as many of each")
    n = counts.pop()
    feeds = []
    for k in range(n):
        sample = {}
        for info in infos:
            a = arrays[info.name]
            if a.ndim == len(info.shape):
                b = info.shape[0] if isinstance(info.shape[0], int) else 1
                sample[info.name] = np.ascontiguousarray(a[k * b:(k + 1) * b]).astype(_calibration_dtype(info))
            else:
                sample[info.name] = np.ascontiguousarray(a[k]).astype(_calibration_dtype(info))
        feeds.append(sample)
    return feeds, [f"{path.name}[{k}]" for k in range(n)]


def load_calibration(source: str | Path, infos: list[TensorInfo], *, preprocess: PreprocessConfig | None = None,
                     holdout: float = 0.2, limit: int | None = None, seed: int = 0, random_count: int = 16,
                     dims: Mapping[str, int] | None = None, ranges: Mapping[str, tuple[int, int]] | None = None
                     ) -> CalibrationData:
    """Inputs for calibration and a disjoint held-out set (split by file for images). ``random`` integer inputs
    take values in ``ranges`` (e.g. the rows of the table they index) where given."""
    text = str(source)
    if text == "random":
        views = [float_view(i) if _calibration_dtype(i) == np.float32 else i for i in infos]
        feeds = [random_inputs(views, seed + k, dims, ranges=ranges) for k in range(random_count)]
        names = [f"random[{k}]" for k in range(random_count)]
    else:
        path = Path(text)
        if path.is_dir():
            files = _image_files(path)
            if not files:
                raise InputDataError(f"{path}: no images in this folder",
                                     hint="give a folder of JPEG/PNG images, an .npz, or `random`")
            if len(infos) != 1:
                raise InputDataError(f"{path}: images can calibrate only a single-input model",
                                     hint="give an .npz with one array per input")
            config = preprocess or PreprocessConfig()
            info = float_view(infos[0])
            feeds = [{info.name: image_to_array(load_image(f), info, config)} for f in files]
            names = [str(f.relative_to(path)) for f in files]
            # images in subfolders are grouped by subfolder (one scene each): held out together
        elif path.suffix.lower() == ".npz" and path.is_file():
            feeds, names = _from_npz(path, infos)
        else:
            raise InputDataError(f"{text}: not a folder of images, an .npz file, or `random`",
                                 hint="e.g. --calib photos/ or --calib inputs.npz or --calib random")
    if limit:
        feeds, names = feeds[:limit], names[:limit]
    groups = [n.split("/", 1)[0] if "/" in n else n for n in names]
    calib_idx, held_idx = _split(groups, holdout, seed)
    if not calib_idx:
        raise InputDataError(f"{text}: {len(feeds)} input(s) leave nothing for calibration after the held-out split",
                             hint="give more inputs or --holdout 0")
    return CalibrationData(text, [feeds[i] for i in calib_idx], [feeds[i] for i in held_idx],
                           [names[i] for i in calib_idx], [names[i] for i in held_idx])


def model_inputs(source: str | Path, model: onnx.ModelProto, count: int, *, preprocess: PreprocessConfig | None = None,
                 seed: int = 0, dims: Mapping[str, int] | None = None) -> list[Feeds]:
    """Up to ``count`` inputs for ``model`` from a folder of images, an ``.npz`` or ``random`` (float data for
    quantized inputs, prepared as the model declares), none held out: what comparisons run both sides on."""
    infos = [float_view(i) for i in tensor_infos(model)[0]]
    return load_calibration(source, infos, preprocess=preprocess_for(model, preprocess), holdout=0, limit=count,
                            seed=seed, random_count=count, dims=dims).calibration
