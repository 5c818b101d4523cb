"""A detector ready to run: the session, its image input, the head recognised from a first run, the
preprocessing (the head's own defaults unless given), and the steps from an image to detections in original
pixels. Shared by ``detect``, the folder pipeline and the evaluation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from onnpu.errors import InputDataError
from onnpu.model.exporter_metadata import exported_task, input_size
from onnpu.model.inspection import TensorInfo, tensor_infos
from onnpu.model.qparams import dequantize
from onnpu.runtime.context_cache import open_session
from onnpu.runtime.session import LoadedSession
from onnpu.runtime.targets import Target
from onnpu.vision.detection.decoding import Detections, check_boxes, check_scores, decode
from onnpu.vision.detection.heads import Head, recognise_head
from onnpu.vision.detection.letterbox import FITS, Placement, draft_scale, fit_image, place
from onnpu.vision.images import load_image
from onnpu.vision.preprocess import PreprocessConfig, image_to_array, input_layout, takes_pixels, unused_size
from onnpu.vision.presets import SCALING

DEFAULT_SIZE = (640, 640)
TINY_INPUT = 32  # a detector's fixed input this small (CenterFace ships 32x32) is a placeholder, not its size


@dataclass(frozen=True)
class DetectPreprocess:
    """How an image becomes a detector's input. None: the head's default (YOLOX raw heads: ``corner``, BGR,
    ``raw`` 0-255 as YOLOX exports expect; ``dfl`` (PicoDet) heads: ``stretch``, RGB, ``imagenet``;
    PaddleDetection's NMS rows: ``stretch``; every other head: ``letterbox``, RGB, ``unit`` 0-1), pad 114."""

    fit: str | None = None
    scaling: str | None = None
    channels: Literal["RGB", "BGR"] | None = None
    pad_value: int = 114
    size: tuple[int, int] | None = None  # (height, width) for a dynamic input

    def __post_init__(self) -> None:
        if self.fit is not None and self.fit not in FITS:
            raise InputDataError(f"unknown fit {self.fit!r}", hint="use one of " + ", ".join(FITS))
        if self.scaling is not None and self.scaling not in SCALING:
            raise InputDataError(f"unknown scaling preset {self.scaling!r}", hint="use one of " + ", ".join(SCALING))
        if not 0 <= self.pad_value <= 255:
            raise InputDataError(f"pad value {self.pad_value} is not in 0..255", hint="e.g. --pad-value 114")

    def for_head(self, head: Head) -> DetectPreprocess:
        yolox_raw = head.kind == "yolox" and not head.decoded
        picodet = head.kind == "dfl"  # PaddleDetection's PicoDet: resized to the input, ImageNet mean and std
        paddle_nms = head.layout.get("order") == "class-score-xyxy"  # PaddleDetection exports: keep_ratio False
        centerface = head.layout.get("convention") == "centerface"  # 0-255 RGB; CenterNet: a mean and std
        centernet = head.kind == "centernet" and not centerface
        retinaface = head.kind == "retinaface"  # its training code's: BGR, less Caffe's means
        return replace(self, fit=self.fit or ("corner" if yolox_raw else "stretch" if picodet or paddle_nms
                                              else "letterbox"),
                       scaling=self.scaling or ("raw" if yolox_raw or centerface else
                                                "imagenet" if picodet or centernet else
                                                "caffe" if retinaface else "unit"),
                       channels=self.channels or ("BGR" if yolox_raw or retinaface else "RGB"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Detector:
    loaded: LoadedSession
    info: TensorInfo  # the image input, batch of one
    outputs: list[TensorInfo]
    size: tuple[int, int]  # (height, width)
    head: Head
    preprocess: DetectPreprocess
    batch_fixed: int | None
    notes: list[str] = field(default_factory=list)
    side_feeds: dict[str, np.ndarray] = field(default_factory=dict)  # one image's value of each side input

    def __post_init__(self) -> None:
        self._tensor_config = PreprocessConfig(resize="resize", scaling=self.preprocess.scaling or "unit",
                                               channels=self.preprocess.channels or "RGB", size=self.size)

    def load(self, path: str | Path, draft: bool = False) -> tuple[Image.Image, int]:
        """Decode an image; with ``draft``, a JPEG at the largest reduction that keeps twice the pixels its
        placement in the input needs and divides its size exactly. Returns the image and that reduction."""
        chosen = [1]

        def request(dims: tuple[int, int]) -> tuple[int, int]:
            chosen[0] = draft_scale(dims, self.size, self.preprocess.fit or "letterbox")
            return dims[0] // chosen[0], dims[1] // chosen[0]

        img = load_image(path, request if draft else None)
        return img, chosen[0]

    def tensor(self, img: Image.Image, source_scale: int = 1) -> tuple[np.ndarray, Placement]:
        """The model input for a decoded image (batch of one) and where the image went in it."""
        width, height = img.width * source_scale, img.height * source_scale
        placement = place(width, height, self.size[1], self.size[0], self.preprocess.fit or "letterbox")
        fitted = fit_image(img, placement, self.preprocess.pad_value, source_scale)
        return image_to_array(fitted, self.info, self._tensor_config), placement

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        names = [o.name for o in self.outputs]
        raw = self.loaded.run({self.info.name: batch, **_batched(self.side_feeds, len(batch))}, names)
        return float_outputs(self.outputs, raw)

    def detections(self, outputs: Mapping[str, np.ndarray], placement: Placement, index: int = 0, *,
                   conf: float = 0.25, iou: float = 0.45, max_det: int = 300) -> Detections:
        return decode(outputs, self.head, conf=conf, iou=iou, max_det=max_det, index=index).mapped(placement)


def float_outputs(infos: list[TensorInfo], raw: list[Any]) -> dict[str, np.ndarray]:
    """Outputs by name as float32, quantized ones dequantized with their own parameters."""
    out = {}
    for info, value in zip(infos, raw, strict=True):
        a = np.asarray(value)
        if info.quant is not None and not np.issubdtype(a.dtype, np.floating):
            a = dequantize(a, info.quant)
        out[info.name] = a.astype(np.float32, copy=False)
    return out


def _input_dims(model: str | Path, size: tuple[int, int] | None, batch: int) -> tuple[dict[str, int], str]:
    """Values for the input's symbolic dims (batch, height, width), read from the model without its weights,
    so that the session (and the NPU) sees fixed shapes. Returns them and, when the size was not given but
    chosen here, why that size ("" otherwise): the size the exporter wrote into the model, else 640x640."""
    from onnpu.model.files import read_model

    path = Path(model)
    if path.suffix.lower() != ".onnx" or not path.is_file():
        return {}, ""
    proto = read_model(path, load_external_data=False)
    inputs = [i for i in tensor_infos(proto)[0] if not _paddle_side_input(i)]
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        return {}, ""
    layout, _, _ = input_layout(inputs[0])
    exported = input_size(proto)
    h, w = size or exported or DEFAULT_SIZE
    shape = inputs[0].shape
    spatial = (2, 3) if layout == "NCHW" else (1, 2)
    dims: dict[str, int] = {}
    if isinstance(shape[0], str):
        dims[shape[0]] = batch
    for axis, value in zip(spatial, (h, w), strict=True):
        dim = shape[axis]
        if isinstance(dim, str):
            dims[dim] = value
    defaulted = size is None and any(isinstance(shape[a], str) for a in spatial)
    if not defaulted:
        return dims, ""
    return dims, "the size the model was exported for, from its metadata" if exported else "the default"


def open_detector(model: str | Path, target: Target, *, head: str | None = None,
                  preprocess: DetectPreprocess | None = None, dims: Mapping[str, int] | None = None,
                  batch: int = 1, cache: bool = True, threads: int | None = None,
                  config: Mapping[str, str] | None = None) -> Detector:
    """Open ``model`` on ``target`` as a detector: a first run on a blank image (the warm-up) gives the output
    shapes the head is recognised from (``head`` names it instead)."""
    preprocess = preprocess or DetectPreprocess()
    auto, defaulted = _input_dims(model, preprocess.size, batch)
    merged = {**auto, **(dims or {})}
    loaded = open_session(model, target, dims=merged or None, cache=cache, threads=threads, config=config)
    inputs, outputs = tensor_infos(loaded.proto)
    images = [i for i in inputs if not _paddle_side_input(i)]
    if len(images) != 1:
        raise InputDataError(f"{model}: detect needs a model with one image input (it has {len(inputs)}: "
                             f"{', '.join(i.name for i in inputs)})", hint="use `onnpu run` for multi-input models")
    sides = [i for i in inputs if i is not images[0]]
    inputs = [images[0], *sides]
    info = inputs[0].with_dims(merged)
    layout, h, w = input_layout(info)
    size = (h, w) if h is not None and w is not None else (preprocess.size or DEFAULT_SIZE)
    fixed = info.shape[0] if isinstance(info.shape[0], int) else None
    per_image = TensorInfo(info.name, info.elem_type, [1, *info.shape[1:]], info.quant)
    notes = []
    _, file_h, file_w = input_layout(inputs[0])  # as the file has it, before any dims were given
    fixed_size = (file_h, file_w) if file_h is not None and file_w is not None else None
    unused = unused_size(inputs[0], preprocess.size, model)
    notes += [unused] if unused else []
    if fixed_size is not None and max(fixed_size) <= TINY_INPUT:
        notes.append(f"the model's input is fixed at {h}x{w}: every image is shrunk to that; a fully convolutional "
                     f"detector shipped at a placeholder size runs at the size you want after `onnpu fix-shapes "
                     f"{model} --input {info.name}={'1,3,HEIGHT,WIDTH' if layout == 'NCHW' else '1,HEIGHT,WIDTH,3'} "
                     "--override-fixed -o OUT.onnx`")
    if defaulted or (h is None and preprocess.size is None):
        notes.append(f"the input's size is dynamic: {size[0]}x{size[1]} used, {defaulted or 'the default'} "
                     "(--size HEIGHTxWIDTH to change)")
    blank_shape = [fixed or 1, *(d if isinstance(d, int) else 1 for d in per_image.shape[1:])]
    if layout == "NCHW":
        blank_shape[2:4] = size
    else:
        blank_shape[1:3] = size
    blank = np.zeros(blank_shape, per_image.numpy_dtype)
    side_feeds = {i.name: _side_feed(i, size) for i in sides}
    first = float_outputs(outputs, loaded.run({info.name: blank, **_batched(side_feeds, len(blank))},
                                              [o.name for o in outputs]))
    if exported_task(loaded.proto) == "obb":  # its extra column is an angle: axis-aligned boxes would be wrong
        raise InputDataError(f"{model}: an oriented-box detector (task=obb in its metadata): onnpu decodes "
                             "axis-aligned boxes only", hint="export the detector for task=detect")
    found = recognise_head({n: tuple(a.shape) for n, a in first.items()}, size, loaded.proto, head)
    check_scores(first, found)
    check_boxes(first, found)
    if fixed and fixed > 1:
        notes.append(f"the model's batch is fixed at {fixed}: images go in batches of {fixed}")
    chosen = preprocess.for_head(found)
    if takes_pixels(per_image):
        if preprocess.scaling not in (None, "raw"):
            notes.append(f"the input is {np.dtype(per_image.numpy_dtype).name}: it takes the pixels 0-255 as they "
                         f"are, not --scaling {preprocess.scaling}")
        chosen = replace(chosen, scaling="raw")
    if sides:
        fed = "; ".join(f"{i.name} = {_SIDE_TEXT[_paddle_side_input(i)]}" for i in sides)
        notes.append(f"PaddleDetection's side inputs fed: {fed} (the graph's boxes stay in input pixels; mapped back "
                     "to the image's here)")
    return Detector(loaded, per_image, outputs, size, found, chosen, fixed, notes, side_feeds)


PADDLE_SIDE_INPUTS = ("scale_factor", "im_shape")  # PaddleDetection exports: [N, 2] beside the image
_SIDE_TEXT = {"scale_factor": "1, 1", "im_shape": "the input's height, width"}


def _paddle_side_input(info: TensorInfo) -> str:
    """``scale_factor`` or ``im_shape`` for a PaddleDetection side input ([N, 2] float), else ""."""
    name = info.name.lower()
    kind = next((k for k in PADDLE_SIDE_INPUTS if k in name), "")
    return kind if kind and len(info.shape) == 2 and info.shape[1] == 2 and "float" in info.elem_type else ""


def _side_feed(info: TensorInfo, size: tuple[int, int]) -> np.ndarray:
    """One image's value of a side input: scale factor 1 (the graph leaves its boxes in input pixels, which onnpu
    maps back to the image's own), the input's (height, width) as the image shape."""
    value = [1.0, 1.0] if _paddle_side_input(info) == "scale_factor" else [float(size[0]), float(size[1])]
    return np.asarray([value], dtype=info.numpy_dtype)


def _batched(feeds: Mapping[str, np.ndarray], rows: int) -> dict[str, np.ndarray]:
    return {name: np.repeat(value, rows, axis=0) for name, value in feeds.items()}
