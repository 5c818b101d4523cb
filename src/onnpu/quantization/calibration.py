"""Calibration and evaluation inputs from a folder of images, samples (an ``.npz`` with one array per input,
an ``.npy``, a folder of them; :mod:`onnpu.runtime.inputs.samples`), or ``random`` (each input in the range its
kind calls for); split into calibration and held-out sets that never overlap."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import onnx

from onnpu import progress
from onnpu.errors import InputDataError
from onnpu.guards import file_kind
from onnpu.model.files import metadata
from onnpu.model.inspection import TensorInfo, tensor_infos
from onnpu.runtime.feeds import float_view
from onnpu.runtime.inputs import InputKind, describe_kinds, input_kinds, random_inputs
from onnpu.runtime.inputs.samples import SAMPLE_SUFFIXES, load_samples
from onnpu.vision.images import IMAGE_SUFFIXES, load_image
from onnpu.vision.preprocess import PreprocessConfig, config_from_metadata, image_to_array, preprocess_for

Feeds = dict[str, np.ndarray]
_Item = TypeVar("_Item")


@dataclass
class CalibrationData:
    source: str
    calibration: list[Feeds]
    heldout: list[Feeds]
    calibration_names: list[str]
    heldout_names: list[str]
    random_kinds: str = ""  # how random inputs were made ("" when the inputs are real)

    @property
    def is_random(self) -> bool:
        return self.source == "random"


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _split(groups: list[str], holdout: float, seed: int) -> tuple[list[int], list[int]]:
    """Split indices so that no group (e.g. the crops of one photo) is on both sides."""
    keys = sorted(set(groups))
    order = np.random.default_rng(seed).permutation(len(keys)).tolist()
    held_groups = max(1, round(len(keys) * holdout)) if holdout > 0 and len(keys) > 1 else 0
    held = {keys[i] for i in order[:held_groups]}
    return [i for i, g in enumerate(groups) if g not in held], [i for i, g in enumerate(groups) if g in held]


def _image_feeds(folder: Path, images: list[Path], info: TensorInfo, config: PreprocessConfig
                 ) -> tuple[list[dict[str, np.ndarray]], list[str]]:
    """The images of ``folder`` as inputs, and their names; an image that cannot be read (truncated, a
    decompression bomb, not an image) is skipped and said, as a folder run skips it — unless none can be read."""
    feeds, names, skipped = [], [], []
    for f in images:
        try:
            feeds.append({info.name: image_to_array(load_image(f), info, config)})
        except InputDataError as exc:
            skipped.append(exc.message)
            continue
        names.append(str(f.relative_to(folder)))
    if skipped and not feeds:
        raise InputDataError(f"{folder}: none of its {len(images)} images can be read ({skipped[0]})",
                             hint="give a folder of readable images (JPEG, PNG, WebP, BMP …)")
    if skipped:
        progress.warn(f"{folder}: skipped {len(skipped)} unreadable image{'s' if len(skipped) != 1 else ''} of "
                      f"{len(images)} ({skipped[0]})")
    return feeds, names


def load_calibration(source: str | Path, infos: list[TensorInfo], *, preprocess: PreprocessConfig | None = None,
                     holdout: float = 0.2, limit: int | None = None, seed: int = 0, random_count: int = 16,
                     dims: Mapping[str, int] | None = None, ranges: Mapping[str, tuple[int, int]] | None = None,
                     kinds: Mapping[str, InputKind] | None = None,
                     constants: Mapping[str, float] | None = None) -> CalibrationData:
    """Inputs for calibration and a disjoint held-out set (split by file for images). ``random`` inputs take the
    range of their kind (``kinds``, from :func:`onnpu.runtime.inputs.input_kinds`), else integer inputs take
    ``ranges`` (half-open, e.g. the rows of the table they index) where given. ``dims`` fix symbolic dims (an
    image input's size among them). ``constants``: inputs real data does not hold (``--input-value sr=16000``),
    that value in every sample."""
    if dims:
        infos = [info.with_dims(dims) for info in infos]
    constants = {n: v for n, v in (constants or {}).items() if n in {i.name for i in infos}}
    fixed = [i for i in infos if i.name in constants]
    if str(source) != "random" and constants:
        infos = [i for i in infos if i.name not in constants]
    text = str(source)
    kinds_text = ""
    if text == "random":
        feeds = [random_inputs(infos, seed + k, dims, kinds=kinds, ranges=ranges) for k in range(random_count)]
        names = [f"random[{k}]" for k in range(random_count)]
        kinds_text = describe_kinds(kinds) if kinds else ""
    else:
        path = Path(text)
        images = _image_files(path) if path.is_dir() else []
        if images:
            if len(infos) != 1:
                raise InputDataError(f"{path}: images can calibrate only a single-input model",
                                     hint="give an .npz with one array per input")
            config = preprocess or PreprocessConfig()
            info = float_view(infos[0])
            feeds, names = _image_feeds(path, images, info, config)
            # images in subfolders are grouped by subfolder (one scene each): held out together
        elif path.is_dir() or (path.exists() and path.suffix.lower() in SAMPLE_SUFFIXES):
            feeds, names = load_samples(path, infos)  # a FIFO or a device named .npz is refused by name there
        elif path.exists() and not path.is_file():
            raise InputDataError(f"{text}: is {file_kind(path.stat().st_mode)}; calibration reads a folder of "
                                 "images or samples, an .npz/.npy file, or `random`",
                                 hint="e.g. --calib photos/ or --calib inputs.npz or --calib random")
        else:
            raise InputDataError(f"{text}: not a folder of images or samples, an .npz/.npy file, or `random`",
                                 hint="e.g. --calib photos/ or --calib inputs.npz or --calib random")
    for info in fixed if text != "random" else []:
        shape = [d if isinstance(d, int) else 1 for d in info.shape]
        for feed in feeds:
            feed[info.name] = np.full(shape, constants[info.name], info.numpy_dtype)
    if limit:
        feeds, names = feeds[:limit], names[:limit]
    groups = [n.split("/", 1)[0] if "/" in n else n for n in names]
    calib_idx, held_idx = _split(groups, holdout, seed)
    if not calib_idx:
        raise InputDataError(f"{text}: {len(feeds)} input(s) leave nothing for calibration after the held-out split",
                             hint="give more inputs or --holdout 0")
    return CalibrationData(text, [feeds[i] for i in calib_idx], [feeds[i] for i in held_idx],
                           [names[i] for i in calib_idx], [names[i] for i in held_idx], kinds_text)


def spread_order(count: int) -> list[int]:
    """The indices 0..count-1 in van der Corput order (bit-reversed): any prefix is spread evenly over the whole
    range — 0, half, a quarter, three quarters … — so a budget that takes the first k inputs takes them from all
    over a folder (its photos sorted by name), not from its first few files."""
    bits = max(1, (count - 1).bit_length())
    return sorted(range(count), key=lambda i: int(format(i, f"0{bits}b")[::-1], 2))


def evenly(feeds: Sequence[_Item], count: int) -> list[_Item]:
    """``count`` of ``feeds``, spread over all of them, in an order whose every prefix is spread too."""
    return [feeds[i] for i in spread_order(len(feeds))[:count]]


def declared_ranges(model: onnx.ModelProto, infos: list[TensorInfo]) -> dict[str, tuple[float, float]]:
    """The range of an image input whose preprocessing the model declares (its metadata): pixels 0..255 through
    the declared mean and std."""
    config = config_from_metadata(metadata(model))
    if config is None or len(infos) != 1 or not np.issubdtype(infos[0].numpy_dtype, np.floating):
        return {}
    mean, std = config.mean_std_255()
    low, high = (0.0 - mean) / std, (255.0 - mean) / std
    return {infos[0].name: (float(np.min(low)), float(np.max(high)))}


def kinds_for(model: onnx.ModelProto, *, overrides: Mapping[str, tuple[float, float]] | None = None,
              dims: Mapping[str, int] | None = None) -> dict[str, InputKind]:
    """The kind of every input of ``model``, images in the range the model declares, ``overrides`` winning."""
    infos = tensor_infos(model)[0]
    return input_kinds(model, infos=infos, declared=declared_ranges(model, infos), overrides=overrides, dims=dims)


def model_inputs(source: str | Path, model: onnx.ModelProto, count: int, *, preprocess: PreprocessConfig | None = None,
                 seed: int = 0, dims: Mapping[str, int] | None = None,
                 overrides: Mapping[str, tuple[float, float]] | None = None) -> CalibrationData:
    """Up to ``count`` inputs for ``model`` from a folder of images, samples or ``random`` (each input in its
    kind's range, ``overrides`` winning; float data for quantized inputs), none held out: what comparisons run
    both sides on (``.calibration``)."""
    infos = tensor_infos(model)[0]
    kinds = kinds_for(model, overrides=overrides, dims=dims) if str(source) == "random" else None
    constants = {n: lo for n, (lo, hi) in (overrides or {}).items() if lo == hi}  # --input-value with real data
    return load_calibration(source, infos, preprocess=preprocess_for(model, preprocess), holdout=0, limit=count,
                            seed=seed, random_count=count, dims=dims, kinds=kinds, constants=constants)
