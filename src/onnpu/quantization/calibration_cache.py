"""Activation ranges measured once per process. ``prepare`` quantizes one model several times on the same inputs
(a detector's stages, mixed precision's candidates) and ONNX Runtime's quantizer would calibrate each time:
run the whole float model, with every tensor's min/max added as an output, over every calibration input. The
ranges it measured are kept here (its own calibration cache, in memory), keyed by everything they depend on — the
model's bytes as the calibrator reads them, the calibration method and options, the inputs' bytes — so a later
quantization of the same model on the same inputs reads them instead. What is quantized differently (16-bit
overrides, range search, rounding) is applied after the ranges, so the written model is the same."""

from __future__ import annotations

import hashlib
import inspect
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx

CHUNK = 1 << 20
ENTRIES = 4  # models' ranges kept (a model's ranges are small: two numbers per tensor, or histograms)
# ONNX Runtime's options that change what its calibrator measures (quantize_static passes these on to it)
CALIBRATION_OPTIONS = ("CalibTensorRangeSymmetric", "CalibMovingAverage", "CalibMovingAverageConstant",
                       "CalibMaxIntermediateOutputs", "CalibPercentile", "CalibNumBins", "CalibStridedMinMax",
                       "SmoothQuant", "SmoothQuantAlpha", "SmoothQuantFolding")

_ranges: OrderedDict[str, str] = OrderedDict()  # key → ONNX Runtime's calibration cache (JSON text)
_lock = threading.Lock()


def _file_digest(path: Path, digest: Any) -> None:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)


def _model_digest(path: Path, digest: Any) -> None:
    """The model file's bytes and those of the external data files it names, read in chunks."""
    _file_digest(path, digest)
    proto = onnx.load(str(path), load_external_data=False)
    locations = sorted({entry.value for t in proto.graph.initializer for entry in t.external_data
                        if entry.key == "location"})
    for location in locations:
        digest.update(location.encode())
        _file_digest(path.parent / location, digest)


def ranges_key(model: Path, feeds: Sequence[Mapping[str, np.ndarray]], config: Any) -> str:
    """What the calibrator's ranges depend on, as one digest: ``model`` (the file it reads), ``feeds`` and the
    StaticQuantConfig ``config``'s calibration method, op types, providers and calibration options."""
    digest = hashlib.sha256()
    _model_digest(model, digest)
    options = {k: config.extra_options[k] for k in CALIBRATION_OPTIONS if k in (config.extra_options or {})}
    digest.update(repr((str(config.calibrate_method), sorted(config.op_types_to_quantize or []),
                        config.calibration_providers, sorted(options.items()))).encode())
    for feed in feeds:
        for name in sorted(feed):
            array = np.ascontiguousarray(feed[name])
            digest.update(repr((name, array.dtype.str, array.shape)).encode())
            digest.update(array.data)
    return digest.hexdigest()


def supported() -> bool:
    """ONNX Runtime's quantize_static takes a calibration cache (``calibration_cache_path``: 1.32 does; older
    releases calibrate every time)."""
    from onnxruntime.quantization import quantize_static

    return "calibration_cache_path" in inspect.signature(quantize_static).parameters


def quantize_once_calibrated(source: Path, output: Path, config: Any,
                             feeds: Sequence[Mapping[str, np.ndarray]]) -> bool:
    """ONNX Runtime's ``quantize(source, output, config)`` (a StaticQuantConfig over ``feeds``), calibrating only
    if this process has not measured the same model on the same inputs; True if the ranges were reused."""
    from onnxruntime.quantization import quantize, quantize_static

    if not supported():
        quantize(str(source), str(output), config)
        return False
    key = ranges_key(source, feeds, config)
    cache = output.with_name(output.name + ".ranges.json")
    with _lock:
        known = _ranges.get(key)
        if known is not None:
            _ranges.move_to_end(key)
    if known is not None:
        cache.write_text(known)
    quantize_static(str(source), str(output), config.calibration_data_reader,
                    calibrate_method=config.calibrate_method, quant_format=config.quant_format,
                    activation_type=config.activation_type, weight_type=config.weight_type,
                    op_types_to_quantize=config.op_types_to_quantize, nodes_to_quantize=config.nodes_to_quantize,
                    nodes_to_exclude=config.nodes_to_exclude, per_channel=config.per_channel,
                    reduce_range=config.reduce_range, use_external_data_format=config.use_external_data_format,
                    calibration_providers=config.calibration_providers, extra_options=config.extra_options,
                    calibration_cache_path=str(cache))
    if known is None:
        with _lock:
            _ranges[key] = cache.read_text()
            while len(_ranges) > ENTRIES:
                _ranges.popitem(last=False)
    cache.unlink(missing_ok=True)
    return known is not None


def forget() -> None:
    """Drop every kept range: the next quantization calibrates again."""
    with _lock:
        _ranges.clear()
