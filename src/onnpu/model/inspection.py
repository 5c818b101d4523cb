"""``inspect``: what a model is — I/O, dynamic dims, opsets, ops, size, quantization style and the
quantization parameters at its inputs and outputs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from onnpu.errors import ModelError
from onnpu.guards import printable
from onnpu.model import proto
from onnpu.model.files import external_data_files, metadata, read_model
from onnpu.model.qparams import QuantParams, io_quant_params

if TYPE_CHECKING:
    import onnx

Dim = int | str | None
QDQ_OPS = {"QuantizeLinear", "DequantizeLinear"}
QOPERATOR_OPS = {"QLinearConv", "QLinearMatMul", "QLinearAdd", "QLinearMul", "ConvInteger", "MatMulInteger",
                 "QLinearAveragePool", "QLinearGlobalAveragePool", "QLinearSigmoid", "QLinearConcat",
                 "QGemm", "QLinearLeakyRelu", "DynamicQuantizeLinear"}


@dataclass
class TensorInfo:
    name: str
    elem_type: str
    shape: list[Dim]
    quant: QuantParams | None = None
    container: str | None = None  # not a tensor: "seq(map(int64, float))", … (``elem_type``: its innermost tensor's)

    @property
    def type_text(self) -> str:
        return self.container or self.elem_type

    @property
    def dynamic_dims(self) -> list[str]:
        """Names of the dims that are not fixed (symbolic names, or ``dim<i>`` for unnamed ones)."""
        return [d if isinstance(d, str) else f"dim{i}" for i, d in enumerate(self.shape) if not isinstance(d, int)]

    @property
    def is_dynamic(self) -> bool:
        return bool(self.dynamic_dims)

    @property
    def numpy_dtype(self) -> np.dtype:
        return proto.np_dtype(proto.TensorProto.DataType.Value(self.elem_type.upper()))

    def with_dims(self, dims: Mapping[str, int] | None) -> TensorInfo:
        """This tensor with the symbolic dims ``dims`` names fixed (as a session's free-dimension overrides fix
        them)."""
        if not dims:
            return self
        return replace(self, shape=[dims.get(d, d) if isinstance(d, str) else d for d in self.shape])

    def shape_text(self) -> str:
        return "[" + ", ".join("?" if d is None else str(d) for d in self.shape) + "]"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "elem_type": self.elem_type, "container": self.container, "shape": self.shape,
                "dynamic_dims": self.dynamic_dims, "quantization": self.quant.to_dict() if self.quant else None}


@dataclass
class ModelInfo:
    path: str
    ir_version: int
    opsets: dict[str, int]
    producer: str
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    op_histogram: dict[str, int]
    node_count: int
    parameter_count: int
    parameter_bytes: int
    external_data: list[str]
    quantization_style: str
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def dynamic_inputs(self) -> dict[str, list[str]]:
        return {t.name: t.dynamic_dims for t in self.inputs if t.is_dynamic}

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["inputs"] = [t.to_dict() for t in self.inputs]
        out["outputs"] = [t.to_dict() for t in self.outputs]
        out["dynamic_inputs"] = self.dynamic_inputs
        return out


def _elem_name(elem_type: int) -> str:
    return str(proto.TensorProto.DataType.Name(elem_type)).lower()


def _type_of(t: onnx.TypeProto) -> tuple[str, str | None]:
    """(the innermost tensor's element type, the container around it as text or None for a plain tensor)."""
    which = t.WhichOneof("value")
    if which == "sequence_type":
        elem, inner = _type_of(t.sequence_type.elem_type)
        return elem, f"seq({inner or elem})"
    if which == "map_type":
        elem, inner = _type_of(t.map_type.value_type)
        return elem, f"map({_elem_name(t.map_type.key_type)}, {inner or elem})"
    if which == "optional_type":
        elem, inner = _type_of(t.optional_type.elem_type)
        return elem, f"optional({inner or elem})"
    if which == "sparse_tensor_type":
        elem = _elem_name(t.sparse_tensor_type.elem_type)
        return elem, f"sparse({elem})"
    return _elem_name(t.tensor_type.elem_type), None


def _info(v: onnx.ValueInfoProto, quant: QuantParams | None) -> TensorInfo:
    elem, container = _type_of(v.type)
    return TensorInfo(v.name, elem, _shape(v), quant, container)


def _shape(value: onnx.ValueInfoProto) -> list[Dim]:
    tt = value.type.tensor_type
    if not tt.HasField("shape"):
        return []
    dims: list[Dim] = []
    for d in tt.shape.dim:
        if d.HasField("dim_value") and d.dim_value >= 0:
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param"):
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return dims


def graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    """Graph inputs that are real inputs (not initializers listed as inputs by old exporters)."""
    inits = {t.name for t in model.graph.initializer}
    return [v for v in model.graph.input if v.name not in inits]


def tensor_infos(model: onnx.ModelProto) -> tuple[list[TensorInfo], list[TensorInfo]]:
    qin, qout = io_quant_params(model)
    inputs = [_info(v, qin.get(v.name)) for v in graph_inputs(model)]
    outputs = [_info(v, qout.get(v.name)) for v in model.graph.output]
    return inputs, outputs


def _parameters(model: onnx.ModelProto, path: str | Path) -> tuple[int, int]:
    """Values and bytes of the constant tensors: initializers and Constant nodes (exporters such as Paddle's
    keep every weight in Constant nodes)."""
    constants = [n for n in model.graph.node if n.op_type == "Constant" and n.domain in ("", "ai.onnx")]
    tensors = list(model.graph.initializer) + [a.t for n in constants for a in n.attribute if a.name == "value"]
    count = size = 0
    for t in tensors:
        n = int(np.prod(t.dims)) if t.dims else 1
        try:
            itemsize = proto.np_dtype(t.data_type).itemsize
        except (KeyError, ValueError, TypeError) as exc:
            raise ModelError(f"{path}: tensor {printable(t.name)!r} has element type {t.data_type}, which ONNX does "
                             "not define", hint="the file is damaged or not ONNX: re-export the model") from exc
        count += n
        size += n * itemsize
    return count, size


def quantization_style(ops: Counter[str]) -> str:
    """``QOperator``, ``QDQ`` or ``float`` from an op histogram, whose keys may carry their domain
    (``com.microsoft.DequantizeLinear``: ONNX Runtime's 16-bit QDQ before opset 21)."""
    present = {op.rsplit(".", 1)[-1] for op, count in ops.items() if count}
    if present & QOPERATOR_OPS:
        return "QOperator"
    if "DequantizeLinear" in present:
        return "QDQ"
    return "float"


def inspect_model(path: str | Path) -> ModelInfo:
    """Describe a model file without running it."""
    p = Path(path)
    model = read_model(p, load_external_data=False)
    inputs, outputs = tensor_infos(model)
    ops = Counter(n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}" for n in model.graph.node)
    count, size = _parameters(model, p)
    return ModelInfo(
        path=str(p),
        ir_version=model.ir_version,
        opsets={(o.domain or "ai.onnx"): o.version for o in model.opset_import},
        producer=" ".join(x for x in (model.producer_name, model.producer_version) if x),
        inputs=inputs,
        outputs=outputs,
        op_histogram=dict(ops.most_common()),
        node_count=len(model.graph.node),
        parameter_count=count,
        parameter_bytes=size,
        external_data=external_data_files(model),
        quantization_style=quantization_style(ops),
        metadata=metadata(model),
    )
