"""QDQ quantization for the QNN HTP through ONNX Runtime's own QNN helpers."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from onnpu.errors import QuantizationError
from onnpu.modelio import read_model, write_model

ACTIVATION_TYPES = {"u8": "QUInt8", "u16": "QUInt16"}
WEIGHT_TYPES = {"u8": "QUInt8", "i8": "QInt8"}
METHODS = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}


@dataclass(frozen=True)
class QuantizeConfig:
    activations: str = "u8"
    weights: str = "i8"
    per_channel: bool = True
    method: str = "minmax"

    def __post_init__(self) -> None:
        for value, table, flag in ((self.activations, ACTIVATION_TYPES, "--activations"),
                                   (self.weights, WEIGHT_TYPES, "--weights"), (self.method, METHODS, "--method")):
            if value not in table:
                raise QuantizationError(f"unknown {flag} value {value!r}", hint=f"{flag} takes " + ", ".join(table))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Reader:
    """ONNX Runtime CalibrationDataReader over a list of feeds, reporting progress."""

    def __init__(self, feeds: Sequence[Mapping[str, np.ndarray]], progress: Callable[[int], None] | None) -> None:
        self._feeds = feeds
        self._progress = progress
        self._iter: Iterator[Mapping[str, np.ndarray]] = iter(feeds)
        self._count = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        item = next(self._iter, None)
        if item is None:
            return None
        self._count += 1
        if self._progress:
            self._progress(self._count)
        return dict(item)

    def rewind(self) -> None:
        self._iter = iter(self._feeds)
        self._count = 0


def quantize_qdq(model: str | Path, out: str | Path, calibration: Sequence[Mapping[str, np.ndarray]],
                 config: QuantizeConfig = QuantizeConfig(), *, force: bool = False,
                 progress: Callable[[int], None] | None = None,
                 metadata: Mapping[str, str] | None = None) -> Path:
    """Quantize a float model (fixed shapes) to QDQ for the QNN HTP and write it atomically to ``out``."""
    from onnxruntime.quantization import CalibrationMethod, QuantType, quantize
    from onnxruntime.quantization.execution_providers.qnn import get_qnn_qdq_config, qnn_preprocess_model

    if not calibration:
        raise QuantizationError("no calibration inputs", hint="give --calib with a folder of images or an .npz")
    src = Path(model)
    original = read_model(src)
    kept_metadata = {m.key: m.value for m in original.metadata_props}
    # qnn_preprocess_model fails on models that carry metadata_props (onnxruntime 1.32): strip them for
    # quantization and put them back on the result.
    del original.metadata_props[:]
    with tempfile.TemporaryDirectory(prefix="onnpu-quant-") as tmp:
        stripped = Path(tmp) / "float.onnx"
        onnx.save_model(original, str(stripped), save_as_external_data=original.ByteSize() > 2_000_000_000)
        del original
        pre = Path(tmp) / "preprocessed.onnx"
        changed = qnn_preprocess_model(str(stripped), str(pre))
        source = pre if changed else stripped
        qconfig = get_qnn_qdq_config(
            str(source), _Reader(calibration, progress),
            calibrate_method=getattr(CalibrationMethod, METHODS[config.method]),
            activation_type=getattr(QuantType, ACTIVATION_TYPES[config.activations]),
            weight_type=getattr(QuantType, WEIGHT_TYPES[config.weights]),
            per_channel=config.per_channel,
        )
        staged = Path(tmp) / "quantized.onnx"
        try:
            quantize(str(source), str(staged), qconfig)
        except Exception as exc:  # ORT's quantizer raises plain exceptions for graphs it cannot handle
            raise QuantizationError(f"{src}: quantization failed: {str(exc).splitlines()[0][:300]}",
                                    hint="fix dynamic shapes first (`onnpu fix-shapes`)") from exc
        result = onnx.load(str(staged))
        for key, value in {**kept_metadata, **(metadata or {})}.items():
            entry = next((m for m in result.metadata_props if m.key == key), None) or result.metadata_props.add()
            entry.key, entry.value = key, value
        return write_model(result, out, inputs=(src,), force=force)
