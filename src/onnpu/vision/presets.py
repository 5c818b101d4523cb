"""Pixel scaling presets by name (mean, std applied to pixel values in 0..255). Plain data, cheap to import."""

from __future__ import annotations

SCALING: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "unit": ((0.0, 0.0, 0.0), (255.0, 255.0, 255.0)),
    "imagenet": ((123.675, 116.28, 103.53), (58.395, 57.12, 57.375)),
    "symmetric": ((127.5, 127.5, 127.5), (127.5, 127.5, 127.5)),
    "raw": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
    "caffe": ((104.0, 117.0, 123.0), (1.0, 1.0, 1.0)),  # 0-255 less Caffe's BGR means (RetinaFace, SSD): BGR input
}
