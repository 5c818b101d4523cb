"""Two ops in the form the QNN EP takes them, each exact:

- ``ReduceSumSquare(x)`` (tf2onnx writes it for a variance) as ``ReduceSum(x · x)``: the QNN EP has no
  ReduceSumSquare ("Operators of type `ReduceSumSquare` are not supported by QNN EP"); before quantization.
- ``OneHot`` reading its ``values`` through a DequantizeLinear of a constant (what ONNX Runtime's QDQ pass
  writes) reads the dequantized constant itself: the EP builds a OneHot only from a constant initializer
  ("OneHot: values input must be a constant initializer"); after quantization, the same numbers."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from onnpu.model.graphs import constant_tensors, default_opset, producers


def reduce_sum_square_as_sum(model: onnx.ModelProto) -> list[str]:
    """In place; returns the nodes rewritten."""
    opset = default_opset(model)
    nodes: list[onnx.NodeProto] = []
    done: list[str] = []
    for k, node in enumerate(model.graph.node):
        if node.op_type != "ReduceSumSquare" or node.domain not in ("", "ai.onnx"):
            nodes.append(node)
            continue
        base = (node.name or f"reducesumsquare_{k}") + "_onnpu"
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        axes_input = node.input[1] if len(node.input) > 1 and node.input[1] else None
        square = helper.make_node("Mul", [node.input[0], node.input[0]], [f"{base}_squared"], name=f"{base}_mul")
        keep = {k: v for k, v in attrs.items() if k in ("keepdims", "noop_with_empty_axes")}
        if opset >= 13:  # ReduceSum takes its axes as an input from opset 13
            if axes_input is None and "axes" in attrs:
                axes_input = f"{base}_axes"
                model.graph.initializer.append(numpy_helper.from_array(np.array(attrs["axes"], np.int64), axes_input))
            inputs = [f"{base}_squared", *([axes_input] if axes_input else [])]
            total = helper.make_node("ReduceSum", inputs, list(node.output), name=f"{base}_sum", **keep)
        else:
            total = helper.make_node("ReduceSum", [f"{base}_squared"], list(node.output), name=f"{base}_sum",
                                     **{k: v for k, v in attrs.items() if k in ("axes", "keepdims")})
        nodes += [square, total]
        done.append(node.name or node.output[0])
    if done:
        del model.graph.node[:]
        model.graph.node.extend(nodes)
    return done


def onehot_values_as_constants(model: onnx.ModelProto) -> list[str]:
    """In place; returns the OneHot nodes changed."""
    consts = constant_tensors(model)
    made_by = producers(model.graph)
    done: list[str] = []
    for node in model.graph.node:
        if node.op_type != "OneHot" or len(node.input) < 3:
            continue
        dq = made_by.get(node.input[2])
        if dq is None or dq.op_type != "DequantizeLinear" or any(x not in consts for x in dq.input if x):
            continue
        q = numpy_helper.to_array(consts[dq.input[0]]).astype(np.float64)
        scale = numpy_helper.to_array(consts[dq.input[1]]).astype(np.float64)
        zero = numpy_helper.to_array(consts[dq.input[2]]).astype(np.float64) if len(dq.input) > 2 and dq.input[2] \
            else 0.0
        name = f"{node.name or node.output[0]}_values_onnpu"
        model.graph.initializer.append(numpy_helper.from_array(((q - zero) * scale).astype(np.float32), name))
        node.input[2] = name
        done.append(node.name or node.output[0])
    return done


def constant_first_matmuls(model: onnx.ModelProto) -> list[str]:
    """``MatMul(W, X)`` with a constant 2-D ``W`` first (what ONNX Runtime's QNN preprocessing leaves of some
    graphs) as ``Transpose(MatMul(Transpose(X), Wᵀ))``: HTP v68 refuses the constant-first form ("Failed to add
    fused Matmul node"), and the transposes move quantized values unchanged. In place; returns the nodes changed."""
    from onnx import shape_inference

    consts = constant_tensors(model)
    firsts = [n for n in model.graph.node if n.op_type == "MatMul" and n.input[0] in consts
              and len(consts[n.input[0]].dims) == 2 and n.input[1] not in consts]
    if not firsts:
        return []
    try:
        inferred = shape_inference.infer_shapes(model)
    except Exception:
        return []
    ranks = {v.name: len(v.type.tensor_type.shape.dim) for v in [*inferred.graph.value_info, *inferred.graph.input]
             if v.type.tensor_type.HasField("shape")}
    chosen = {id(n) for n in firsts}
    nodes: list[onnx.NodeProto] = []
    done: list[str] = []
    for k, node in enumerate(model.graph.node):
        rank = ranks.get(node.input[1], 0) if id(node) in chosen else 0
        if rank < 2:
            nodes.append(node)
            continue
        base = (node.name or f"matmul_{k}") + "_onnpu"
        perm = [*range(rank - 2), rank - 1, rank - 2]
        weight = numpy_helper.to_array(consts[node.input[0]])
        model.graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(weight.T), f"{base}_wt"))
        nodes += [helper.make_node("Transpose", [node.input[1]], [f"{base}_xt"], name=f"{base}_xt", perm=perm),
                  helper.make_node("MatMul", [f"{base}_xt", f"{base}_wt"], [f"{base}_yt"], name=f"{base}_matmul"),
                  helper.make_node("Transpose", [f"{base}_yt"], list(node.output), name=f"{base}_y", perm=perm)]
        done.append(node.name or node.output[0])
    if done:
        del model.graph.node[:]
        model.graph.node.extend(nodes)
    return done
