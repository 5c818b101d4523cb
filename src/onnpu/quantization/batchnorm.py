"""BatchNormalization with a computed mean or variance (tf2onnx writes Keras' LayerNormalization that way: the
statistics of each sample as the BN's "running" mean and variance) as the arithmetic it stands for. QNN builds a
BatchNorm only from constant statistics ("QNN BatchNorm doesn't support dynamic mean"), so such a node would keep
a model off the HTP; ``(x − mean) / sqrt(var + ε) · scale + B`` in elementwise ops runs there, and in float it is
the same computation."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from onnpu.model.graphs import constant_tensors, default_opset


def _ranks(model: onnx.ModelProto) -> dict[str, int]:
    """The rank of every tensor shape inference knows."""
    inferred = onnx.shape_inference.infer_shapes(model)
    return {v.name: len(v.type.tensor_type.shape.dim)
            for v in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]
            if v.type.tensor_type.HasField("shape")}


def _per_channel(model: onnx.ModelProto, made: list[onnx.NodeProto], name: str, out: str, rank: int,
                 opset: int) -> str:
    """``name`` [C] as [C, 1, …] (rank − 1 dims), broadcasting on axis 1 of a rank-``rank`` input."""
    axes = list(range(1, rank - 1))
    if not axes:
        return name
    if opset >= 13:
        model.graph.initializer.append(numpy_helper.from_array(np.array(axes, "int64"), f"{out}_axes"))
        made.append(helper.make_node("Unsqueeze", [name, f"{out}_axes"], [out], name=out))
    else:
        made.append(helper.make_node("Unsqueeze", [name], [out], name=out, axes=axes))
    return out


def expand_dynamic_batchnorms(model: onnx.ModelProto) -> list[str]:
    """Rewrite in place every inference-mode BatchNormalization whose mean or variance is not a constant (and
    whose input's rank is known); returns the names of the nodes rewritten."""
    consts = constant_tensors(model)
    opset = default_opset(model)
    done: list[str] = []
    nodes: list[onnx.NodeProto] = []
    ranks: dict[str, int] | None = None  # inferred once, when a BatchNormalization needs it
    for k, node in enumerate(model.graph.node):
        training = any(a.name == "training_mode" and a.i for a in node.attribute)
        if node.op_type != "BatchNormalization" or training or len(node.output) != 1 or \
                all(x in consts for x in node.input[3:5]):
            nodes.append(node)
            continue
        ranks = _ranks(model) if ranks is None else ranks
        rank = ranks.get(node.input[0])
        if rank is None or rank < 2:
            nodes.append(node)
            continue
        eps = next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5)
        base = (node.name or f"batchnorm_{k}") + "_onnpu"
        x, scale, bias, mean, var = node.input[:5]
        made: list[onnx.NodeProto] = []
        m, v, s, b = (_per_channel(model, made, name, f"{base}_{role}", rank, opset)
                      for name, role in ((mean, "mean"), (var, "var"), (scale, "scale"), (bias, "bias")))
        eps_name = f"{base}_eps"
        model.graph.initializer.append(numpy_helper.from_array(np.array(eps, "float32"), eps_name))
        made += [helper.make_node("Sub", [x, m], [f"{base}_centred"], name=f"{base}_sub"),
                 helper.make_node("Add", [v, eps_name], [f"{base}_var_eps"], name=f"{base}_add_eps"),
                 helper.make_node("Sqrt", [f"{base}_var_eps"], [f"{base}_std"], name=f"{base}_sqrt"),
                 helper.make_node("Div", [f"{base}_centred", f"{base}_std"], [f"{base}_normed"], name=f"{base}_div"),
                 helper.make_node("Mul", [f"{base}_normed", s], [f"{base}_scaled"], name=f"{base}_mul"),
                 helper.make_node("Add", [f"{base}_scaled", b], [node.output[0]], name=f"{base}_add")]
        nodes += made
        done.append(node.name or node.output[0])
    if done:
        del model.graph.node[:]
        model.graph.node.extend(nodes)
    return done
