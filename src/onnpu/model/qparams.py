"""Quantization parameters at a model's inputs and outputs, read from the model itself, and the
(de)quantization of arrays with them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from onnpu.errors import InputDataError
from onnpu.model import proto
from onnpu.model.files import metadata
from onnpu.model.graphs import constant_tensors, producers

if TYPE_CHECKING:
    import onnx

IO_QUANT_METADATA_KEY = "onnpu.io_quantization"

INT_TYPES = {
    proto.TensorProto.UINT8: np.uint8, proto.TensorProto.INT8: np.int8,
    proto.TensorProto.UINT16: np.uint16, proto.TensorProto.INT16: np.int16,
}


@dataclass(frozen=True)
class QuantParams:
    """``real = (q - zero_point) * scale``; per-tensor (scalars) or per-axis (vectors + axis)."""

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    dtype: str
    axis: int | None = None
    source: str = ""

    @property
    def per_tensor(self) -> bool:
        return len(self.scale) == 1

    @property
    def bits(self) -> int:
        """The integer type's width (8 for uint8/int8, 16 for uint16/int16, 4 for int4 …)."""
        digits = "".join(c for c in self.dtype if c.isdigit())
        return int(digits) if digits else 8

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dtype": self.dtype, "source": self.source}
        if self.per_tensor:
            out.update(scale=self.scale[0], zero_point=self.zero_point[0])
        else:
            out.update(scale=list(self.scale), zero_point=list(self.zero_point), axis=self.axis)
        return out

    def _broadcast(self, ndim: int) -> tuple[np.ndarray, np.ndarray]:
        scale = np.asarray(self.scale, dtype=np.float32)
        zp = np.asarray(self.zero_point, dtype=np.float32)
        if not self.per_tensor and self.axis is not None:
            shape = [1] * ndim
            shape[self.axis] = -1
            scale, zp = scale.reshape(shape), zp.reshape(shape)
        elif self.per_tensor:
            scale, zp = scale.reshape(()), zp.reshape(())
        return scale, zp


def quantize_array(x: np.ndarray, qp: QuantParams) -> np.ndarray:
    """Quantize float data with the model's own parameters (round half to even, saturate), as
    ONNX QuantizeLinear does."""
    if not np.all(np.isfinite(x)):
        raise InputDataError("input contains NaN or Inf values; they cannot be quantized",
                             hint="check the input data for missing or invalid values")
    dtype = np.dtype(qp.dtype)
    info = np.iinfo(dtype)
    scale, zp = qp._broadcast(x.ndim)
    q = np.rint(x.astype(np.float32) / scale) + zp
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, qp: QuantParams) -> np.ndarray:
    """Quantized data back to float with the model's own parameters."""
    scale, zp = qp._broadcast(q.ndim)
    return ((q.astype(np.float32) - zp) * scale).astype(np.float32)


def qdq_params(node: onnx.NodeProto, consts: dict[str, onnx.TensorProto], dtype: str | None = None
               ) -> QuantParams | None:
    """The parameters of a QuantizeLinear / DequantizeLinear node whose scale (and zero point) are constants;
    ``dtype`` overrides the integer type (else the zero point's, else uint8). The one Q/DQ reader."""
    if len(node.input) < 2 or node.input[1] not in consts:
        return None
    scale = proto.to_array(consts[node.input[1]]).astype(np.float64).ravel()
    if len(node.input) > 2 and node.input[2] and node.input[2] in consts:
        zp_arr = proto.to_array(consts[node.input[2]])
        zp = zp_arr.astype(np.int64).ravel()
        dtype = dtype or zp_arr.dtype.name
    else:
        zp = np.zeros_like(scale, dtype=np.int64)
        dtype = dtype or "uint8"
    axis = None
    if scale.size > 1:
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
    return QuantParams(tuple(float(s) for s in scale), tuple(int(z) for z in zp), dtype,
                       axis, f"{node.op_type} {node.name or node.output[0]!r}")


def _metadata_params(model: onnx.ModelProto) -> dict[str, QuantParams]:
    text = metadata(model).get(IO_QUANT_METADATA_KEY)
    if text:
        table = json.loads(text)
        return {name: QuantParams(tuple(np.ravel(v["scale"]).tolist()), tuple(np.ravel(v["zero_point"]).tolist()),
                                  v["dtype"], v.get("axis"), f"metadata {IO_QUANT_METADATA_KEY}")
                for name, v in table.items()}
    return {}


def io_quant_params(model: onnx.ModelProto) -> tuple[dict[str, QuantParams], dict[str, QuantParams]]:
    """Quantization parameters of each graph input and output that has them.

    Input: an integer input takes the parameters of the DequantizeLinear that consumes it; a float input
    feeding a QuantizeLinear takes that node's. Output: an integer output takes those of the QuantizeLinear
    that produces it; a float output produced by DequantizeLinear takes that node's. Parameters recorded in
    the model's metadata (models whose I/O Q/DQ were removed) come first.
    """
    consts = constant_tensors(model)
    init_names = {t.name for t in model.graph.initializer}
    meta = _metadata_params(model)
    elem = {v.name: v.type.tensor_type.elem_type for v in (*model.graph.input, *model.graph.output)}
    inputs: dict[str, QuantParams] = {}
    outputs: dict[str, QuantParams] = {}
    for inp in model.graph.input:
        if inp.name in init_names:
            continue
        if inp.name in meta:
            inputs[inp.name] = meta[inp.name]
            continue
        for node in model.graph.node:
            if node.input and node.input[0] == inp.name and node.op_type in ("DequantizeLinear", "QuantizeLinear"):
                is_int = elem[inp.name] in INT_TYPES
                if (node.op_type == "DequantizeLinear") == is_int:
                    dtype = np.dtype(INT_TYPES[elem[inp.name]]).name if is_int else None
                    qp = qdq_params(node, consts, dtype)
                    if qp:
                        inputs[inp.name] = qp
                    break
    made_by = producers(model.graph)
    for out in model.graph.output:
        if out.name in meta:
            outputs[out.name] = meta[out.name]
            continue
        node = made_by.get(out.name)
        if node is None:
            continue
        is_int = elem[out.name] in INT_TYPES
        if (is_int and node.op_type == "QuantizeLinear") or (not is_int and node.op_type == "DequantizeLinear"):
            dtype = np.dtype(INT_TYPES[elem[out.name]]).name if is_int else None
            qp = qdq_params(node, consts, dtype)
            if qp:
                outputs[out.name] = qp
    return inputs, outputs
