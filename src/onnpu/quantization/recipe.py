"""QDQ quantization for the QNN HTP through ONNX Runtime's own QNN helpers (``qnn_preprocess_model``,
``get_qnn_qdq_config``, ``quantize``), with per-tensor 16-bit overrides for mixed precision."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import onnx

from onnpu import progress
from onnpu.errors import QuantizationError
from onnpu.model.biases import full_gemm_biases, unshare_biases
from onnpu.model.files import metadata, set_metadata, write_model
from onnpu.model.qparams import qdq_params
from onnpu.model.transforms import constants_to_initializers, ensure_opset
from onnpu.quantization import transformer
from onnpu.quantization.calibration_cache import quantize_once_calibrated
from onnpu.quantization.config import ACTIVATION_TYPES, DEFAULT_QUANTIZE, METHODS, WEIGHT_TYPES, QuantizeConfig
from onnpu.quantization.equalization import bounded_relu_ranges
from onnpu.quantization.exact_grids import exact_grid_overrides, merged, sixteen_bit_partners
from onnpu.quantization.exclusions import nodes_to_exclude
from onnpu.quantization.htp_ops import constant_first_matmuls, onehot_values_as_constants
from onnpu.quantization.islands import float_islands, mask_ranges, with_ranges
from onnpu.storage import scratch_dir


class FeedReader:
    """The CalibrationDataReader ONNX Runtime's quantization tools expect, over a list of feeds: ``get_next``
    and ``rewind`` for the quantizer, iteration for ``qdq_loss_debug``; with a ``stage``, what was read is
    reported to ``onnpu.progress``."""

    def __init__(self, feeds: Sequence[Mapping[str, np.ndarray]], stage: str | None = None) -> None:
        self._feeds = feeds
        self._stage = stage
        self._iter: Iterator[Mapping[str, np.ndarray]] = iter(feeds)
        self._count = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        item = next(self._iter, None)
        if item is None:
            return None
        self._count += 1
        if self._stage:
            progress.advance(self._stage, self._count, len(self._feeds))
        # a scalar input's value may be a numpy scalar, which ONNX Runtime's run does not take: a 0-d array
        return {name: np.asarray(value) for name, value in item.items()}

    def rewind(self) -> None:
        self._iter = iter(self._feeds)
        self._count = 0

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        return (dict(f) for f in self._feeds)


def _failure(stage: str, exc: Exception) -> QuantizationError:
    """The quantizer's failure with its real cause, and a hint that fits that cause."""
    from onnpu.runtime.ort_errors import ort_error_text

    detail, node = ort_error_text(exc)
    kind = type(exc).__name__
    if node and type(exc).__module__.startswith("onnxruntime"):  # a node failed while the model ran: calibrating
        stage = "calibration (running the float model on the calibration inputs)"
    text = f"{kind}: {detail}" if kind not in ("Fail", "RuntimeException", "InvalidArgument") else detail
    if stage.startswith("calibration"):
        hint = ("the float model fails on these inputs: check that it runs (`onnpu run MODEL --target cpu`) and "
                "that --calib data matches its input")
    elif any(w in detail.lower() for w in ("dynamic", "symbolic", "unknown dim", "dim_param")):
        hint = "fix the model's shapes first (`onnpu fix-shapes`)"
    else:
        hint = ("check the model's ops and opset with `onnpu inspect`"
                + (f"; the failing node is {node!r}" if node else ""))
    return QuantizationError(f"quantization failed in {stage}: {text[:300]}", hint=hint)


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """ONNX Runtime's quantization tools log on the root logger (advice, every unnamed node they name): not
    onnpu's output, so only errors pass while they run."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def quantize_qdq_model(model: onnx.ModelProto, calibration: Sequence[Mapping[str, np.ndarray]],
                       config: QuantizeConfig = DEFAULT_QUANTIZE, *, sixteen_bit: Sequence[str] = (),
                       notes: list[str] | None = None) -> onnx.ModelProto:
    """Quantize a float model (fixed shapes) to QDQ for the QNN HTP. ``sixteen_bit`` names activation
    tensors raised to uint16 (mixed precision). The calibration inputs read are reported to ``onnpu.progress``
    (stage ``calibrating``). What was changed for the HTP is said in ``notes``."""
    from onnxruntime.quantization import CalibrationMethod, QuantType
    from onnxruntime.quantization.execution_providers.qnn import get_qnn_qdq_config, qnn_preprocess_model

    if not calibration:
        raise QuantizationError("no calibration inputs", hint="give --calib with a folder of images or an .npz")
    original = onnx.ModelProto()
    original.CopyFrom(model)
    original = ensure_opset(constants_to_initializers(original))
    unshare_biases(original)  # before ONNX Runtime's quantizer copies shared biases under names that may collide
    full_gemm_biases(original)  # its bias quantization indexes per channel: no scalar Gemm bias
    config, _ = transformer.resolve_config(original, config)
    original, said = transformer.for_htp(original, calibration)
    if notes is not None:
        notes.extend(said)
    layernorms = transformer.layernorm_overrides(original)
    masked = mask_ranges(original, calibration)  # what every mask gives, not only the calibration's
    bounded = bounded_relu_ranges(original, calibration)  # a bounded activation equalisation rewrote keeps its grid
    islands = float_islands(original)
    if notes is not None and masked:
        notes.append(f"{len(masked)} tensor{'s' if len(masked) > 1 else ''} computed from the mask input"
                     f"{'s' if len(masked) > 1 else ''} alone quantized over every mask (on and off), not only the "
                     "calibration's")
    if notes is not None and islands:
        notes.append(f"quantized what the quantizer would leave float (HTP v68 computes no float): "
                     f"{', '.join(islands[:3])}{' …' if len(islands) > 3 else ''}")
    kept_metadata = metadata(original)
    # qnn_preprocess_model fails on models that carry metadata_props (onnxruntime 1.32): strip them for
    # quantization and put them back on the result.
    del original.metadata_props[:]
    with scratch_dir("onnpu-quant-") as tmp, _quiet_root_logger():
        stripped = Path(tmp) / "float.onnx"
        write_model(original, stripped, force=True)  # external data when over the protobuf limit
        del original
        pre = Path(tmp) / "preprocessed.onnx"
        try:
            changed = qnn_preprocess_model(str(stripped), str(pre))
        except Exception as exc:
            raise _failure("ONNX Runtime's QNN preprocessing (qnn_preprocess_model)", exc) from exc
        source = pre if changed else stripped
        staged_float = onnx.load(str(source))
        firsts = constant_first_matmuls(staged_float)  # what the preprocessing leaves that HTP v68 refuses
        sixteen_bit = [*sixteen_bit, *sorted(sixteen_bit_partners(staged_float, set(sixteen_bit)))]
        exact = exact_grid_overrides(staged_float, weights=config.weights, activations=config.activations,
                                     sixteen_bit=set(sixteen_bit))
        if firsts:
            source = Path(tmp) / "htp.onnx"
            write_model(staged_float, source, force=True)
            if notes is not None:
                notes.append(f"{len(firsts)} MatMul{'s' if len(firsts) > 1 else ''} with a constant first operand "
                             "written as Transpose · MatMul · Transpose (HTP v68 refuses that form)")
        del staged_float
        overrides = merged(with_ranges({**layernorms,
                                        **{name: [{"quant_type": QuantType.QUInt16}] for name in sixteen_bit}},
                                       {**bounded, **masked}), exact)
        try:
            stage = "configuration (get_qnn_qdq_config)"
            qconfig = get_qnn_qdq_config(
                str(source), FeedReader(calibration, "calibrating"),
                calibrate_method=getattr(CalibrationMethod, METHODS[config.method]),
                activation_type=getattr(QuantType, ACTIVATION_TYPES[config.activations]),
                weight_type=getattr(QuantType, WEIGHT_TYPES[config.weights]),
                per_channel=config.per_channel,
                init_overrides=overrides or None,
                nodes_to_exclude=nodes_to_exclude(source) or None,
            )
            if islands:  # float inputs read only by data movement, Wheres of float constants: quantized too
                qconfig.extra_options["ForceQuantizeNoInputCheck"] = True
            staged = Path(tmp) / "quantized.onnx"
            stage = "calibration and quantization (onnxruntime.quantization.quantize)"
            with np.errstate(divide="ignore", invalid="ignore"):  # an infinite range is reported below, by name
                quantize_once_calibrated(source, staged, qconfig, calibration)
        except QuantizationError:
            raise
        except Exception as exc:  # ORT's quantizer raises plain exceptions for graphs it cannot handle
            raise _failure(stage, exc) from exc
        result = onnx.load(str(staged))
    transformer.quantize_where_constants(result)
    onehot_values_as_constants(result)  # the QNN EP builds a OneHot only from constant values
    _check_scales(result)
    set_metadata(result, kept_metadata)
    return result


def _check_scales(model: onnx.ModelProto) -> None:
    """Every QuantizeLinear scale must be finite and positive: a tensor that reached ±inf or NaN during
    calibration (a masked fill with -inf, a division by zero) gets an infinite scale, and the HTP then refuses
    the graph (``graphAddNode() failed ... Quantize``) — say so here, naming the tensors."""
    inits = {t.name: t for t in model.graph.initializer}
    bad = []
    for node in model.graph.node:
        params = qdq_params(node, inits) if node.op_type == "QuantizeLinear" else None
        if params is not None and not all(math.isfinite(x) and x > 0 for x in params.scale):
            bad.append(node.input[0])
    if bad:
        listed = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise QuantizationError(f"calibration gave {len(bad)} tensor{'s' if len(bad) != 1 else ''} an infinite or "
                                f"empty range ({listed}): the model writes ±inf or NaN there on these inputs (e.g. a "
                                "masked fill with -inf where the mask is off)",
                                hint="calibrate on inputs that do not trigger it (e.g. attention masks without "
                                     "padding), or replace the -inf fill in the model by a finite value")

