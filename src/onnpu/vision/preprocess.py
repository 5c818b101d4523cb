"""A decoded image into a model's input tensor: resize or shorter-side + centre crop, RGB/BGR, NCHW/NHWC
from the model, scaling presets, and quantization of the result with the model's own parameters. The
preprocessing a model declares in its metadata is read here, once."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from PIL import Image

from onnpu.errors import InputDataError, ModelError
from onnpu.model.files import metadata
from onnpu.model.inspection import TensorInfo
from onnpu.model.limits import check_memory
from onnpu.model.qparams import quantize_array
from onnpu.vision.images import load_image
from onnpu.vision.presets import SCALING

if TYPE_CHECKING:
    import onnx

PREPROCESS_METADATA_KEY = "onnpu.preprocess"

@dataclass(frozen=True)
class PreprocessConfig:
    """How an image becomes a tensor. ``mean``/``std`` are in the 0..1 pixel range when given, and then
    replace the scaling preset."""

    resize: Literal["resize", "crop"] = "crop"
    crop_ratio: float = 0.875
    scaling: str = "imagenet"
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    channels: Literal["RGB", "BGR"] = "RGB"
    size: tuple[int, int] | None = None  # (height, width) for models with a dynamic spatial size

    def __post_init__(self) -> None:
        if self.scaling not in SCALING:
            raise InputDataError(f"unknown scaling preset {self.scaling!r}", hint="use one of " + ", ".join(SCALING))
        if not 0 < self.crop_ratio <= 1:
            raise InputDataError(f"crop ratio {self.crop_ratio} is not in (0, 1]", hint="e.g. --crop-ratio 0.875")
        if self.resize not in ("resize", "crop"):
            raise InputDataError(f"unknown resize mode {self.resize!r}", hint="use resize or crop")
        for name, values, example in (("mean", self.mean, "0.485,0.456,0.406"), ("std", self.std, "0.229,0.224,0.225")):
            if values is None:
                continue
            if not all(math.isfinite(v) for v in values):
                raise InputDataError(f"--{name} {','.join(map(str, values))}: every value must be a finite number",
                                     hint=f"e.g. --{name} {example}")
            if len(values) not in (1, 3):
                raise InputDataError(f"--{name} has {len(values)} values: one for all channels, or three (R, G, B)",
                                     hint=f"e.g. --{name} {example}")
        if self.std is not None and not all(v > 0 for v in self.std):
            raise InputDataError(f"--std {','.join(map(str, self.std))}: a standard deviation is greater than 0",
                                 hint="e.g. --std 0.229,0.224,0.225 (or --std 1 to divide by nothing)")
        if self.channels not in ("RGB", "BGR"):
            raise InputDataError(f"unknown channel order {self.channels!r}", hint="RGB, or --bgr for BGR")
        if self.size is not None and len(self.size) != 2:
            raise InputDataError(f"size {list(self.size)} is not HEIGHTxWIDTH", hint="e.g. --size 224x224")
        if self.size is not None and min(self.size) < 1:
            raise InputDataError(f"--size {self.size[0]}x{self.size[1]}: an image has at least one pixel per side",
                                 hint="e.g. --size 224x224")

    def mean_std_255(self) -> tuple[np.ndarray, np.ndarray]:
        if self.mean is not None or self.std is not None:
            mean = np.array(self.mean if self.mean is not None else (0.0,), np.float32) * 255
            std = np.array(self.std if self.std is not None else (1.0,), np.float32) * 255
            return mean, std
        m, s = SCALING[self.scaling]
        return np.array(m, np.float32), np.array(s, np.float32)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, **changes: Any) -> PreprocessConfig:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def config_from_metadata(entries: dict[str, str], source: str = "the model") -> PreprocessConfig | None:
    """The preprocessing a model declares in its metadata (onnpu writes it into the models it builds); a
    declaration that is not one (a model file is untrusted input) is refused in one line naming ``source``."""
    text = entries.get(PREPROCESS_METADATA_KEY)
    if not text:
        return None
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise TypeError(f"a JSON {type(data).__name__}, not an object")
        known = {f.name for f in fields(PreprocessConfig)}
        given = {k: v for k, v in data.items() if k in known}  # entries of a later onnpu are left to it
        for key in ("mean", "std", "size"):
            if given.get(key) is not None:
                given[key] = tuple(float(v) if key != "size" else int(v) for v in given[key])
        for key in ("crop_ratio",):
            if given.get(key) is not None:
                given[key] = float(given[key])
        return PreprocessConfig(**given)
    except (ValueError, TypeError, InputDataError) as exc:
        why = exc.message if isinstance(exc, InputDataError) else str(exc)
        raise ModelError(f"{source}: its metadata {PREPROCESS_METADATA_KEY!r} declares no preprocessing onnpu can "
                         f"use ({why[:160]})",
                         hint="give the preprocessing with --mean/--std/--size, or remove the entry from the "
                              "model's metadata_props") from exc


DRAFT_OVERSAMPLE = 2  # keep ≥ 2x the pixels the resize needs, so it still antialiases as from the full image


def draft_request(size: tuple[int, int], target: tuple[int, int], config: PreprocessConfig) -> tuple[int, int]:
    """The decoded size to ask a JPEG for: it can decode at 1/2, 1/4 or 1/8 scale (Pillow ``draft``), which
    saves most of the cost of a camera-size photo. Twice the pixels preprocessing needs per side keeps the
    resize antialiased; it is still not full decoding (BENCHMARKS.md: on 500 camera JPEGs 10 top-1 of
    EfficientNet-Lite0 differ from full decoding; `--no-draft` turns it off). Orientation-proof: the longer
    target side is required along both axes."""
    w, h = size
    side = max(target) * DRAFT_OVERSAMPLE
    scale = side / config.crop_ratio / min(w, h) if config.resize == "crop" else max(side / w, side / h)
    return max(1, math.ceil(w * scale)), max(1, math.ceil(h * scale))


def preprocess_for(model: onnx.ModelProto, override: PreprocessConfig | None = None, source: str = "the model"
                   ) -> PreprocessConfig:
    """What to use for ``model`` (the file ``source``): the caller's settings, else what the model declares, else
    the default."""
    return override or config_from_metadata(metadata(model), source) or PreprocessConfig()


def unused_size(info: TensorInfo, size: tuple[int, int] | None, model: str | Path) -> str | None:
    """What to say when ``--size`` is given for a model whose input (``info`` as the file declares it) is fixed at
    another size: it is not used."""
    if size is None:
        return None
    _, h, w = input_layout(info)
    if h is None or w is None or (h, w) == tuple(size):
        return None
    return (f"--size {size[0]}x{size[1]} not used: the model's input is fixed at {h}x{w} (`onnpu fix-shapes {model} "
            f"--input {info.name}=... --override-fixed` changes it)")


def input_layout(info: TensorInfo) -> tuple[str, int | None, int | None]:
    """``NCHW`` or ``NHWC`` from the model's input shape, with its fixed height and width (None if dynamic)."""
    shape = info.shape
    if len(shape) != 4:
        raise InputDataError(f"input {info.name!r} has shape {info.shape_text()}, not an image batch",
                             hint="image preprocessing needs a 4-D input (NCHW or NHWC)")
    if shape[1] in (1, 3) or (shape[-1] not in (1, 3) and not isinstance(shape[1], int)):
        h, w = shape[2], shape[3]
        layout = "NCHW"
    elif shape[-1] in (1, 3):
        h, w = shape[1], shape[2]
        layout = "NHWC"
    else:
        raise InputDataError(f"input {info.name!r} with shape {info.shape_text()} has no channel axis of 1 or 3",
                             hint="image preprocessing supports NCHW and NHWC inputs with 1 or 3 channels")
    if 0 in (h, w):
        raise InputDataError(f"input {info.name!r} with shape {info.shape_text()} holds images of no pixels",
                             hint="fix its height and width (onnpu fix-shapes) to the size the model was trained at")
    if isinstance(h, int) and isinstance(w, int):  # before an image is resized to it (a model may declare 100000²)
        check_memory(f"input {info.name!r}", 2 * h * w * 3 * 4, f"one {h}x{w} image (resized, then as floats)")
    return layout, h if isinstance(h, int) else None, w if isinstance(w, int) else None


def target_size(info: TensorInfo, config: PreprocessConfig) -> tuple[int, int]:
    _, h, w = input_layout(info)
    if h is None or w is None:
        if config.size is None:
            raise InputDataError(f"input {info.name!r} has a dynamic spatial size {info.shape_text()}",
                                 hint="give the size with --size HEIGHTxWIDTH, e.g. --size 224x224")
        return config.size
    return h, w


def resize_image(img: Image.Image, size: tuple[int, int], config: PreprocessConfig) -> Image.Image:
    h, w = size
    if config.resize == "resize":
        return img.resize((w, h), Image.Resampling.BILINEAR)
    scale = max(h / config.crop_ratio / img.height, w / config.crop_ratio / img.width)
    rw, rh = max(w, round(img.width * scale)), max(h, round(img.height * scale))
    left, top = (rw - w) // 2, (rh - h) // 2
    # resize only the centre crop: the box, in source pixels, of the crop of the resized image
    sx, sy = img.width / rw, img.height / rh
    box = (left * sx, top * sy, (left + w) * sx, (top + h) * sy)
    return img.resize((w, h), Image.Resampling.BILINEAR, box=box)


def takes_pixels(info: TensorInfo) -> bool:
    """Whether an image input holds the pixels themselves, 0-255, whatever the scaling asked: an unsigned integer
    input that is not a quantized one (uint8 NHWC, as TF exports take)."""
    return info.quant is None and bool(np.issubdtype(info.numpy_dtype, np.unsignedinteger))


def image_to_array(img: Image.Image, info: TensorInfo, config: PreprocessConfig) -> np.ndarray:
    """A decoded RGB image to the model's input tensor (batch of one), quantized if the input is."""
    layout, _, _ = input_layout(info)
    size = target_size(info, config)
    img = resize_image(img, size, config)
    channels = info.shape[1] if layout == "NCHW" else info.shape[-1]
    a = np.asarray(img, dtype=np.float32)
    if config.channels == "BGR":
        a = a[..., ::-1]
    if channels == 1:
        a = a @ np.array([0.299, 0.587, 0.114], np.float32)[:, None]
    integer = takes_pixels(info)
    mean, std = (np.zeros(3, np.float32), np.ones(3, np.float32)) if integer else config.mean_std_255()
    n = a.shape[-1]
    # one pass, into a fresh array in the model's layout: x * (1/std) - mean/std
    out = np.empty((1, n, *a.shape[:2]) if layout == "NCHW" else (1, *a.shape), np.float32)
    view = out[0].transpose(1, 2, 0) if layout == "NCHW" else out[0]
    np.multiply(a, (1 / std[:n]).astype(np.float32), out=view)
    view -= (mean[:n] / std[:n]).astype(np.float32)
    a = out
    if info.quant is not None and not np.issubdtype(info.numpy_dtype, np.floating):
        return quantize_array(a, info.quant)
    if integer:
        bounds = np.iinfo(info.numpy_dtype)
        return np.clip(np.rint(a), bounds.min, bounds.max).astype(info.numpy_dtype)
    return a.astype(info.numpy_dtype, copy=False)


def preprocess_image(path: str | Path, info: TensorInfo, config: PreprocessConfig) -> np.ndarray:
    return image_to_array(load_image(path), info, config)
