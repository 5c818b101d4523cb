"""QDQ quantization for the QNN HTP through ONNX Runtime's own QNN helpers (``qnn_preprocess_model``,
``get_qnn_qdq_config``, ``quantize``), with per-tensor 16-bit overrides for mixed precision."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from onnpu.errors import QuantizationError

ACTIVATION_TYPES = {"u8": "QUInt8", "u16": "QUInt16"}
WEIGHT_TYPES = {"u8": "QUInt8", "i8": "QInt8"}
METHODS = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}


@dataclass(frozen=True)
class QuantizeConfig:
    activations: str = "u8"
    weights: str = "i8"
    per_channel: bool = True
    method: str = "minmax"
    rounding: str = "optimized"  # second-order rounding of the weights (onnpu.rounding), or "nearest"
    bias_correction: bool = True

    def __post_init__(self) -> None:
        if self.rounding not in ("nearest", "optimized"):
            raise QuantizationError(f"unknown --rounding value {self.rounding!r}",
                                    hint="--rounding takes nearest or optimized")
        for value, table, flag in ((self.activations, ACTIVATION_TYPES, "--activations"),
                                   (self.weights, WEIGHT_TYPES, "--weights"), (self.method, METHODS, "--method")):
            if value not in table:
                raise QuantizationError(f"unknown {flag} value {value!r}", hint=f"{flag} takes " + ", ".join(table))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_QUANTIZE = QuantizeConfig()


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


def constants_to_initializers(model: onnx.ModelProto) -> onnx.ModelProto:
    """Constant nodes become initializers (in place). ONNX Runtime's quantizer treats a Constant node's
    output as an activation and quantizes it: a Resize ``scales`` of 2.0 then dequantizes to 1.99 and the
    output shape changes (95 instead of 96 rows in PP-OCRv4's detector)."""
    from onnx import numpy_helper

    kept = []
    for node in model.graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and len(node.attribute) == 1:
            value = onnx.helper.get_attribute_value(node.attribute[0])
            name = node.attribute[0].name
            if name == "value":
                tensor = value
            elif name in ("value_float", "value_int"):
                tensor = numpy_helper.from_array(np.array(value, np.float32 if name == "value_float" else np.int64))
            elif name in ("value_floats", "value_ints"):
                tensor = numpy_helper.from_array(np.array(value, np.float32 if name == "value_floats" else np.int64))
            else:
                kept.append(node)
                continue
            tensor.name = node.output[0]
            model.graph.initializer.append(tensor)
        else:
            kept.append(node)
    del model.graph.node[:]
    model.graph.node.extend(kept)
    return model


MIN_OPSET = 13  # per-channel QuantizeLinear/DequantizeLinear (axis) needs opset 13


def ensure_opset(model: onnx.ModelProto) -> onnx.ModelProto:
    """Models older than opset 13 are converted (per-channel Q/DQ needs it)."""
    current = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), MIN_OPSET)
    if current >= MIN_OPSET:
        return model
    try:
        return onnx.version_converter.convert_version(model, MIN_OPSET)
    except Exception as exc:  # the converter raises plain RuntimeErrors for unsupported adapters
        raise QuantizationError(f"the model uses opset {current}; quantization needs ≥ {MIN_OPSET} and the "
                                f"conversion failed: {str(exc).splitlines()[0][:200]}",
                                hint="re-export the model with opset 13 or newer") from exc


def quantize_qdq_model(model: onnx.ModelProto, calibration: Sequence[Mapping[str, np.ndarray]],
                       config: QuantizeConfig = DEFAULT_QUANTIZE, *, sixteen_bit: Sequence[str] = (),
                       progress: Callable[[int], None] | None = None) -> onnx.ModelProto:
    """Quantize a float model (fixed shapes) to QDQ for the QNN HTP. ``sixteen_bit`` names activation
    tensors raised to uint16 (mixed precision)."""
    from onnxruntime.quantization import CalibrationMethod, QuantType, quantize
    from onnxruntime.quantization.execution_providers.qnn import get_qnn_qdq_config, qnn_preprocess_model

    if not calibration:
        raise QuantizationError("no calibration inputs", hint="give --calib with a folder of images or an .npz")
    original = onnx.ModelProto()
    original.CopyFrom(model)
    original = ensure_opset(constants_to_initializers(original))
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
        overrides = {name: [{"quant_type": QuantType.QUInt16}] for name in sixteen_bit}
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # ORT's quantizer logs advice on the root logger
        try:
            qconfig = get_qnn_qdq_config(
                str(source), _Reader(calibration, progress),
                calibrate_method=getattr(CalibrationMethod, METHODS[config.method]),
                activation_type=getattr(QuantType, ACTIVATION_TYPES[config.activations]),
                weight_type=getattr(QuantType, WEIGHT_TYPES[config.weights]),
                per_channel=config.per_channel,
                init_overrides=overrides or None,
            )
            staged = Path(tmp) / "quantized.onnx"
            quantize(str(source), str(staged), qconfig)
        except QuantizationError:
            raise
        except Exception as exc:  # ORT's quantizer raises plain exceptions for graphs it cannot handle
            raise QuantizationError(f"quantization failed: {str(exc).splitlines()[0][:300]}",
                                    hint="fix dynamic shapes first (`onnpu fix-shapes`)") from exc
        finally:
            root.setLevel(level)
        result = onnx.load(str(staged))
    for key, value in kept_metadata.items():
        entry = result.metadata_props.add()
        entry.key, entry.value = key, value
    return result


def set_metadata(model: onnx.ModelProto, entries: Mapping[str, str]) -> None:
    for key, value in entries.items():
        entry = next((m for m in model.metadata_props if m.key == key), None) or model.metadata_props.add()
        entry.key, entry.value = key, value
