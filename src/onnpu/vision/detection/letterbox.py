"""Placing an image into a detector's input and boxes back onto the image: letterbox (scaled to fit, centred,
padded), ``corner`` (scaled to fit, padded right and bottom, as YOLOX does) or ``stretch`` (plain resize), each
with its exact inverse. The mapping is kept as the scale and offset that were really applied (the resized size
is rounded to whole pixels, so each axis has its own scale), so a box maps back to the original pixels exactly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image

Fit = Literal["letterbox", "corner", "stretch"]
FITS: tuple[str, ...] = ("letterbox", "corner", "stretch")


@dataclass(frozen=True)
class Placement:
    """An image of ``width`` x ``height`` original pixels resized to ``resized_width`` x ``resized_height`` and
    pasted at (``left``, ``top``) into an input of ``input_width`` x ``input_height``."""

    width: int
    height: int
    input_width: int
    input_height: int
    resized_width: int
    resized_height: int
    left: int
    top: int

    @property
    def scale_x(self) -> float:
        return self.resized_width / self.width

    @property
    def scale_y(self) -> float:
        return self.resized_height / self.height

    def to_original(self, boxes: np.ndarray, clip: bool = True) -> np.ndarray:
        """Boxes ``[K, 4]`` xyxy in input pixels → original image pixels (float64), clipped to the image."""
        out = self.points_to_original(np.asarray(boxes).reshape(-1, 2, 2)).reshape(-1, 4)
        if clip:
            np.clip(out[:, 0::2], 0, self.width, out=out[:, 0::2])
            np.clip(out[:, 1::2], 0, self.height, out=out[:, 1::2])
        return out

    def points_to_original(self, points: np.ndarray) -> np.ndarray:
        """Points ``[..., 2]`` (x, y) in input pixels → original image pixels (float64), not clipped."""
        out = np.array(points, dtype=np.float64, copy=True)
        out[..., 0] = (out[..., 0] - self.left) / self.scale_x
        out[..., 1] = (out[..., 1] - self.top) / self.scale_y
        return out

    def to_input(self, boxes: np.ndarray) -> np.ndarray:
        """Boxes in original pixels → input pixels (the forward mapping)."""
        out = np.array(boxes, dtype=np.float64, copy=True).reshape(-1, 4)
        out[:, 0::2] = out[:, 0::2] * self.scale_x + self.left
        out[:, 1::2] = out[:, 1::2] * self.scale_y + self.top
        return out


def place(width: int, height: int, input_width: int, input_height: int, fit: str = "letterbox") -> Placement:
    """Where an image of ``width`` x ``height`` goes in the input."""
    if fit == "stretch":
        return Placement(width, height, input_width, input_height, input_width, input_height, 0, 0)
    ratio = min(input_width / width, input_height / height)
    rw = min(input_width, max(1, round(width * ratio)))
    rh = min(input_height, max(1, round(height * ratio)))
    if fit == "corner":
        return Placement(width, height, input_width, input_height, rw, rh, 0, 0)
    return Placement(width, height, input_width, input_height, rw, rh, (input_width - rw) // 2,
                     (input_height - rh) // 2)


def fit_image(img: Image.Image, placement: Placement, pad_value: int = 114, source_scale: int = 1) -> Image.Image:
    """The input image: ``img`` resized and pasted on a ``pad_value`` canvas. ``source_scale``: ``img`` was
    decoded at 1/``source_scale`` of the original size (JPEG draft), its pixels cover ``source_scale`` original
    pixels each; the mapping stays that of the original."""
    box = (0.0, 0.0, placement.width / source_scale, placement.height / source_scale)
    resized = img.resize((placement.resized_width, placement.resized_height), Image.Resampling.BILINEAR, box=box)
    if (placement.resized_width, placement.resized_height) == (placement.input_width, placement.input_height):
        return resized
    canvas = Image.new("RGB", (placement.input_width, placement.input_height), (pad_value,) * 3)
    canvas.paste(resized, (placement.left, placement.top))
    return canvas


def draft_scale(size: tuple[int, int], input_size: tuple[int, int], fit: str = "letterbox", oversample: int = 2
                ) -> int:
    """The JPEG reduction (1, 2, 4 or 8) for an image of ``size`` (width, height, as stored) placed into an input
    of ``input_size`` (height, width) by ``fit``: the largest that still leaves ``oversample`` x the pixels the
    resize needs on each axis and divides the size exactly (so the decoded pixels cover the original exactly).
    The need is that of the placement itself (a 4:3 photo letterboxed into a square fills it on its long side
    only), taken over both orientations: EXIF may turn the image after decoding."""
    w, h = size
    need = 0.0
    for width, height in ((w, h), (h, w)):
        placement = place(width, height, input_size[1], input_size[0], fit)
        need = max(need, placement.scale_x, placement.scale_y)
    limit = 1 / max(1e-12, need * oversample)
    for s in (8, 4, 2):
        if s <= limit and w % s == 0 and h % s == 0:
            return s
    return 1
