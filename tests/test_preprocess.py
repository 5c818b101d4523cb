from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from onnpu import InputDataError
from onnpu.model.inspection import TensorInfo
from onnpu.model.qparams import QuantParams
from onnpu.vision.images import load_image, to_rgb
from onnpu.vision.preprocess import PreprocessConfig, image_to_array

NCHW = TensorInfo("x", "float", [1, 3, 8, 8])
NHWC = TensorInfo("x", "float", [1, 8, 8, 3])


def _gradient(w: int = 40, h: int = 30) -> Image.Image:
    a = np.zeros((h, w, 3), np.uint8)
    a[..., 0] = np.linspace(0, 255, w)[None, :]
    a[..., 1] = np.linspace(0, 255, h)[:, None]
    a[..., 2] = 77
    return Image.fromarray(a)


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "I;16", "I", "F", "1"])
def test_every_mode_becomes_rgb(mode: str) -> None:
    img = _gradient()
    converted = img.convert("L").convert(mode) if mode in ("I;16", "I", "F", "1") else img.convert(mode)
    rgb = to_rgb(converted)
    assert rgb.mode == "RGB" and rgb.size == img.size


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = _gradient(40, 30)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    path = tmp_path / "rotated.jpg"
    img.save(path, exif=exif)
    assert load_image(path).size == (30, 40)


def test_layouts_and_scaling() -> None:
    img = _gradient()
    cfg = PreprocessConfig(resize="resize", scaling="unit")
    a = image_to_array(img, NCHW, cfg)
    b = image_to_array(img, NHWC, cfg)
    assert a.shape == (1, 3, 8, 8) and b.shape == (1, 8, 8, 3) and a.dtype == np.float32
    np.testing.assert_allclose(a[0].transpose(1, 2, 0), b[0])
    assert a.min() >= 0 and a.max() <= 1
    raw = image_to_array(img, NCHW, cfg.updated(scaling="raw"))
    np.testing.assert_allclose(raw / 255, a, atol=1e-6)
    sym = image_to_array(img, NCHW, cfg.updated(scaling="symmetric"))
    np.testing.assert_allclose(sym, a * 2 - 1, atol=1e-5)
    bgr = image_to_array(img, NCHW, cfg.updated(channels="BGR"))
    np.testing.assert_allclose(bgr[0, ::-1], a[0])
    explicit = image_to_array(img, NCHW, cfg.updated(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)))
    np.testing.assert_allclose(explicit, (a - 0.5) / 0.25, atol=1e-5)


def test_centre_crop_keeps_the_middle() -> None:
    a = np.zeros((20, 60, 3), np.uint8)
    a[:, 20:40] = 255  # a white band in the middle third
    cfg = PreprocessConfig(resize="crop", crop_ratio=1.0, scaling="unit")
    out = image_to_array(Image.fromarray(a), NCHW, cfg)
    assert out[..., 1:-1].min() > 0.99  # the centre crop is white (edge columns blend in the resize)
    plain = image_to_array(Image.fromarray(a), NCHW, cfg.updated(resize="resize"))
    assert plain[..., 0].max() < 0.01  # a plain resize keeps the black sides


def test_quantized_input_uses_model_parameters() -> None:
    info = TensorInfo("x", "uint8", [1, 3, 8, 8], QuantParams((0.025,), (100,), "uint8"))
    cfg = PreprocessConfig(resize="resize", scaling="imagenet")
    q = image_to_array(_gradient(), info, cfg)
    f = image_to_array(_gradient(), NCHW, cfg)
    assert q.dtype == np.uint8
    np.testing.assert_array_equal(q, np.clip(np.rint(f / 0.025) + 100, 0, 255).astype(np.uint8))


def test_dynamic_size_needs_size() -> None:
    info = TensorInfo("x", "float", [1, 3, "H", "W"])
    with pytest.raises(InputDataError, match="dynamic spatial size") as exc:
        image_to_array(_gradient(), info, PreprocessConfig())
    assert "--size" in (exc.value.hint or "")
    assert image_to_array(_gradient(), info, PreprocessConfig(size=(12, 20))).shape == (1, 3, 12, 20)


def test_bad_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    with pytest.raises(InputDataError, match="not an image file"):
        load_image(text)
    empty = tmp_path / "empty.png"
    empty.touch()
    with pytest.raises(InputDataError, match="empty"):
        load_image(empty)
    buffer = io.BytesIO()
    _gradient(200, 200).save(buffer, "JPEG")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(InputDataError, match="truncated or corrupt"):
        load_image(cut)
    with pytest.raises(InputDataError, match="no such image"):
        load_image(tmp_path / "missing.png")


def test_decompression_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.png"
    _gradient(100, 100).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(InputDataError, match="too large"):
        load_image(path)


def test_bad_config() -> None:
    with pytest.raises(InputDataError, match="unknown scaling preset"):
        PreprocessConfig(scaling="zscore")
    with pytest.raises(InputDataError, match="crop ratio"):
        PreprocessConfig(crop_ratio=1.5)
