"""Complete QDQ groups: the HTP runs an op in integer only when it sits in a full DequantizeLinear → op →
QuantizeLinear group; otherwise the QNN EP treats it as float, which HTP v68 (QCS6490) cannot run at all.

Measured on the HTP emulator (onnxruntime-qnn 2.7.0, QNN 2.51): a pool whose output reaches its
QuantizeLinear only through Flatten / Reshape (as in AI-Hub-style classifiers: DQ → GlobalAveragePool →
Flatten → Q) runs on the default HTP and v73/v75, but makes session creation fail on v68. Inserting Q → DQ
right after the pool, with the parameters of the QuantizeLinear that follows, is exact: shape-only ops do not
change values, so the pool's output is quantized once, with the same scale and zero point, either way."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from onnpu.model.graphs import constant_tensors, consumers, producers
from onnpu.model.qparams import qdq_params

# ops whose quantized form needs the full group (verified on v68: GlobalAveragePool, AveragePool, ReduceMean)
POOLS = ("GlobalAveragePool", "AveragePool", "ReduceMean", "GlobalMaxPool", "MaxPool")
SHAPE_ONLY = ("Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity")


@dataclass(frozen=True)
class GroupFix:
    node: str
    op_type: str
    via: tuple[str, ...]  # the shape-only ops between the node and the QuantizeLinear whose parameters it takes
    scale: float
    zero_point: int

    def describe(self) -> str:
        through = f" (the next QuantizeLinear was after {', '.join(self.via)})" if self.via else ""
        return (f"QuantizeLinear → DequantizeLinear inserted after {self.node} ({self.op_type}), scale "
                f"{self.scale:.6g}, zero point {self.zero_point}{through}")


def _following_q(start: str, readers: dict[str, list[onnx.NodeProto]], outputs: set[str]
                 ) -> tuple[onnx.NodeProto, list[onnx.NodeProto]] | None:
    """The QuantizeLinear reached from tensor ``start`` through single-consumer shape-only ops."""
    via: list[onnx.NodeProto] = []
    tensor = start
    while True:
        users = readers.get(tensor, [])
        if len(users) != 1 or tensor in outputs:
            return None
        user = users[0]
        if user.op_type == "QuantizeLinear" and user.input[0] == tensor:
            return (user, via) if via else None  # directly followed by Q: the group is complete already
        if user.op_type not in SHAPE_ONLY or user.input[0] != tensor:
            return None
        via.append(user)
        tensor = user.output[0]


def complete_qdq_groups(model: onnx.ModelProto) -> tuple[onnx.ModelProto, list[GroupFix]]:
    """Pure transform: a Q → DQ pair after every pool fed by DequantizeLinear whose output reaches a
    per-tensor QuantizeLinear only through shape-only ops. Returns the new model and what was inserted."""
    result = onnx.ModelProto()
    result.CopyFrom(model)
    graph = result.graph
    inits = constant_tensors(result)
    made_by = producers(graph)
    readers = consumers(graph)
    outputs = {o.name for o in graph.output}
    fixes: list[GroupFix] = []
    insert_after: dict[str, list[onnx.NodeProto]] = {}
    for node in list(graph.node):
        source = made_by.get(node.input[0]) if node.input else None
        if node.op_type not in POOLS or source is None or source.op_type != "DequantizeLinear":
            continue
        found = _following_q(node.output[0], readers, outputs)
        if found is None:
            continue
        q, via = found
        out_params = qdq_params(q, inits)
        in_params = qdq_params(source, inits)
        if out_params is None or not out_params.per_tensor or (len(q.input) > 2 and q.input[2] not in inits):
            continue
        scale = np.asarray(out_params.scale[0], np.float32)
        zp = np.asarray(out_params.zero_point[0], dtype=np.dtype(out_params.dtype))
        in_dtype = np.dtype(in_params.dtype) if in_params else np.dtype(np.uint8)
        if zp.dtype != in_dtype and {zp.dtype.itemsize, in_dtype.itemsize} == {1}:
            shift = 128 if in_dtype == np.uint8 else -128  # the same real range in the input's 8-bit type
            zp = np.asarray(int(zp) + shift, dtype=in_dtype)
        stem = f"{node.name or node.output[0]}_onnpu_group"
        s_name, z_name = f"{stem}_scale", f"{stem}_zero_point"
        graph.initializer.extend([numpy_helper.from_array(scale, s_name), numpy_helper.from_array(zp, z_name)])
        quantized, restored = f"{stem}_q", f"{stem}_dq"
        new_q = helper.make_node("QuantizeLinear", [node.output[0], s_name, z_name], [quantized], name=f"{stem}_q")
        new_dq = helper.make_node("DequantizeLinear", [quantized, s_name, z_name], [restored], name=f"{stem}_dq")
        for user in readers.get(node.output[0], []):
            for i, name in enumerate(user.input):
                if name == node.output[0]:
                    user.input[i] = restored
        insert_after[node.output[0]] = [new_q, new_dq]
        fixes.append(GroupFix(node.name or node.output[0], node.op_type, tuple(v.name or v.op_type for v in via),
                              float(scale), int(zp)))
    if fixes:
        ordered: list[onnx.NodeProto] = []
        for node in graph.node:
            ordered.append(node)
            for out in node.output:
                ordered.extend(insert_after.get(out, []))
        del graph.node[:]
        graph.node.extend(ordered)
    return result, fixes
