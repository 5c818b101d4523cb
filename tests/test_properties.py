"""Property-based tests of preprocessing and quantization parameters."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from onnpu.model.inspection import TensorInfo
from onnpu.model.qparams import QuantParams, dequantize, quantize_array
from onnpu.vision.images import to_rgb
from onnpu.vision.preprocess import SCALING, PreprocessConfig, image_to_array

MODES = ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F"]


@st.composite
def images(draw: st.DrawFn) -> Image.Image:
    w, h = draw(st.integers(1, 120)), draw(st.integers(1, 120))
    seed = draw(st.integers(0, 2**16))
    pixels = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    img = Image.fromarray(pixels, "RGB")
    mode = draw(st.sampled_from(MODES))
    img = img.convert("L").convert(mode) if mode in ("I;16", "I", "F", "1") else img.convert(mode)
    orientation = draw(st.integers(1, 8))
    if orientation != 1:
        exif = img.getexif()
        exif[0x0112] = orientation
        img.info["exif"] = exif.tobytes()
    return img


@settings(max_examples=80, deadline=None)
@given(img=images(), size=st.tuples(st.integers(4, 48), st.integers(4, 48)), nhwc=st.booleans(),
       channels=st.sampled_from([1, 3]), resize=st.sampled_from(["resize", "crop"]),
       crop=st.floats(0.3, 1.0), scaling=st.sampled_from(list(SCALING)), bgr=st.booleans())
def test_any_image_becomes_the_model_tensor(img: Image.Image, size: tuple[int, int], nhwc: bool, channels: int,
                                            resize: str, crop: float, scaling: str, bgr: bool) -> None:
    h, w = size
    shape: list[int | str | None] = [1, h, w, channels] if nhwc else [1, channels, h, w]
    info = TensorInfo("x", "float", shape)
    config = PreprocessConfig(resize=resize, crop_ratio=crop, scaling=scaling, channels="BGR" if bgr else "RGB")  # type: ignore[arg-type]
    out = image_to_array(to_rgb(img), info, config)
    assert list(out.shape) == shape and out.dtype == np.float32
    assert np.all(np.isfinite(out))


@settings(max_examples=40, deadline=None)
@given(img=images(), scale=st.floats(1e-3, 0.5), zp=st.integers(0, 255))
def test_quantized_inputs_have_the_model_dtype(img: Image.Image, scale: float, zp: int) -> None:
    info = TensorInfo("x", "uint8", [1, 3, 16, 16], QuantParams((scale,), (zp,), "uint8"))
    out = image_to_array(to_rgb(img), info, PreprocessConfig())
    assert out.shape == (1, 3, 16, 16) and out.dtype == np.uint8


@settings(max_examples=200, deadline=None)
@given(dtype=st.sampled_from(["uint8", "int8", "uint16", "int16"]), scale=st.floats(1e-4, 10.0),
       zp_frac=st.floats(0, 1), seed=st.integers(0, 2**16))
def test_quantize_dequantize_within_half_a_step(dtype: str, scale: float, zp_frac: float, seed: int) -> None:
    info = np.iinfo(np.dtype(dtype))
    zp = int(info.min + round(zp_frac * (int(info.max) - int(info.min))))
    qp = QuantParams((scale,), (zp,), dtype)
    lo, hi = (info.min - zp) * scale, (info.max - zp) * scale
    x = np.random.default_rng(seed).uniform(lo, hi, 257).astype(np.float32)
    back = dequantize(quantize_array(x, qp), qp)
    # half a step, plus the float32 rounding of x / scale that ONNX's QuantizeLinear also does
    tolerance = scale / 2 + np.abs(x.astype(np.float64)) * 2.0**-22
    assert np.all(np.abs(back.astype(np.float64) - x) <= tolerance)


@settings(max_examples=60, deadline=None)
@given(scales=st.lists(st.floats(1e-3, 1.0), min_size=2, max_size=6), seed=st.integers(0, 2**16))
def test_per_axis_quantize_dequantize(scales: list[float], seed: int) -> None:
    n = len(scales)
    qp = QuantParams(tuple(scales), tuple([0] * n), "int8", axis=1)
    x = np.random.default_rng(seed).uniform(-100, 100, (2, n, 3)).astype(np.float32)
    x = np.clip(x, -127 * np.array(scales)[None, :, None], 127 * np.array(scales)[None, :, None]).astype(np.float32)
    back = dequantize(quantize_array(x, qp), qp)
    assert np.all(np.abs(back - x) <= np.array(scales)[None, :, None] / 2 * (1 + 1e-5))
