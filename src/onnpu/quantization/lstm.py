"""``LSTM`` unrolled into the ops it is made of, exact in float: per step and gate a ``Gemm`` of the input and one of
the hidden state, ``Sigmoid``/``Tanh``, and the cell update as ``Mul``/``Add``. QNN on HTP v68 (QCS6490) fails to
finalize a graph with an LSTM (QNN_COMMON_ERROR_MEM_ALLOC, measured on a voice-activity detector's one-step LSTM,
also with the lighter graph optimisation); the unrolled form is ops every HTP takes, each quantized on its own.

Only what can be unrolled exactly and briefly is: a forward LSTM of at most ``MAX_STEPS`` steps with static
shapes, constant weights, recurrence weights and bias, the default activations, no peepholes, no clip, no
coupled input-forget gate and no sequence lengths. Anything else is left as written (and said by placement)."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

from onnpu.model.graphs import constant_tensors

MAX_STEPS = 16
GATES = ("i", "o", "f", "c")  # ONNX's order of the gates in W, R and B


def _dims(model: onnx.ModelProto) -> dict[str, list[int]]:
    try:
        inferred = shape_inference.infer_shapes(model)
    except Exception:
        return {}
    out: dict[str, list[int]] = {}
    for v in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]:
        dims = [d.dim_value if d.HasField("dim_value") else 0 for d in v.type.tensor_type.shape.dim]
        if dims and all(d > 0 for d in dims):
            out[v.name] = dims
    return out


def _plain(node: onnx.NodeProto) -> bool:
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    acts = [a.decode() if isinstance(a, bytes) else a for a in attrs.get("activations", [])]
    return (attrs.get("direction", b"forward") in (b"forward", "forward") and not attrs.get("clip")
            and not attrs.get("input_forget", 0) and not attrs.get("layout", 0)
            and acts in ([], ["Sigmoid", "Tanh", "Tanh"]) and "activation_alpha" not in attrs
            and "activation_beta" not in attrs)


def lstm_unrolled(model: onnx.ModelProto) -> list[str]:
    """In place; returns the LSTM nodes unrolled."""
    targets = [n for n in model.graph.node if n.op_type == "LSTM" and n.domain in ("", "ai.onnx")]
    if not targets:
        return []
    consts = constant_tensors(model)
    dims = _dims(model)
    nodes: list[onnx.NodeProto] = []
    done: list[str] = []
    dropped: set[str] = set()  # the LSTMs' weights, and constants an unrolling did not use
    for k, node in enumerate(model.graph.node):
        made = _unroll(node, k, consts, dims, model) if node in targets else None
        if made is None:
            nodes.append(node)
        else:
            nodes += made
            done.append(node.name or node.output[0])
            dropped |= {x for x in node.input[1:4] if x} | {f"{node.name or f'lstm_{k}'}_onnpu_flat"}
    if done:
        del model.graph.node[:]
        model.graph.node.extend(nodes)
        used = {x for n in model.graph.node for x in n.input} | {o.name for o in model.graph.output}
        kept = [t for t in model.graph.initializer if t.name in used or t.name not in dropped]
        del model.graph.initializer[:]
        model.graph.initializer.extend(kept)
    return done


def _unroll(node: onnx.NodeProto, k: int, consts: dict[str, onnx.TensorProto], dims: dict[str, list[int]],
            model: onnx.ModelProto) -> list[onnx.NodeProto] | None:
    ins = [*node.input, *[""] * (8 - len(node.input))]
    x, w, r, b, lengths, h0, c0, peep = ins[:8]
    shape = dims.get(x)
    if (not _plain(node) or lengths or peep or w not in consts or r not in consts or (b and b not in consts)
            or shape is None or len(shape) != 3 or shape[0] > MAX_STEPS):
        return None
    steps, batch, _ = shape
    wv, rv = numpy_helper.to_array(consts[w]), numpy_helper.to_array(consts[r])
    if wv.shape[0] != 1:
        return None
    hidden = rv.shape[-1]
    bv = numpy_helper.to_array(consts[b]) if b else np.zeros((1, 8 * hidden), wv.dtype)
    base = (node.name or f"lstm_{k}") + "_onnpu"
    made: list[onnx.NodeProto] = []

    def const(name: str, value: np.ndarray) -> str:
        model.graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(value), f"{base}_{name}"))
        return f"{base}_{name}"

    def op(kind: str, inputs: list[str], name: str, **attrs: Any) -> str:
        made.append(helper.make_node(kind, inputs, [f"{base}_{name}"], name=f"{base}_{name}", **attrs))
        return f"{base}_{name}"

    flat = const("flat", np.array([batch, hidden], np.int64))

    def state(given: str, name: str) -> str:
        if given:
            return op("Reshape", [given, flat], name)
        return const(name, np.zeros((batch, hidden), wv.dtype))

    h, c = state(h0, "h0"), state(c0, "c0")
    rows = [const(f"w_{g}", wv[0, j * hidden:(j + 1) * hidden]) for j, g in enumerate(GATES)]
    recur = [const(f"r_{g}", rv[0, j * hidden:(j + 1) * hidden]) for j, g in enumerate(GATES)]
    bias = [const(f"b_{g}", bv[0, j * hidden:(j + 1) * hidden] + bv[0, (4 + j) * hidden:(5 + j) * hidden])
            for j, g in enumerate(GATES)]
    step_shape = const("step_shape", np.array([batch, shape[2]], np.int64))
    outs: list[str] = []
    for t in range(steps):
        if steps == 1:
            xt = op("Reshape", [x, step_shape], "x0")
        else:
            at = [const(f"at{t}", np.array([t], np.int64)), const(f"to{t}", np.array([t + 1], np.int64)),
                  const(f"axis{t}", np.array([0], np.int64))]
            xt = op("Reshape", [op("Slice", [x, *at], f"slice{t}"), step_shape], f"x{t}")
        gate = {}
        for j, g in enumerate(GATES):
            pre = op("Add", [op("Gemm", [xt, rows[j]], f"t{t}_{g}_x", transB=1),
                             op("Gemm", [h, recur[j], bias[j]], f"t{t}_{g}_h", transB=1)], f"t{t}_{g}")
            gate[g] = op("Tanh" if g == "c" else "Sigmoid", [pre], f"t{t}_{g}_act")
        c = op("Add", [op("Mul", [gate["f"], c], f"t{t}_fc"), op("Mul", [gate["i"], gate["c"]], f"t{t}_ic")],
               f"t{t}_cell")
        h = op("Mul", [gate["o"], op("Tanh", [c], f"t{t}_tanh_cell")], f"t{t}_hidden")
        outs.append(h)
    y, y_h, y_c = [*node.output, "", ""][:3]
    one = const("one_shape", np.array([1, batch, hidden], np.int64))
    if y:
        four = const("y_shape", np.array([1, 1, batch, hidden], np.int64))
        if len(outs) == 1:
            made.append(helper.make_node("Reshape", [outs[0], four], [y], name=f"{base}_y"))
        else:
            parts = [op("Reshape", [o, four], f"y{t}") for t, o in enumerate(outs)]
            made.append(helper.make_node("Concat", parts, [y], name=f"{base}_y", axis=0))
    if y_h:
        made.append(helper.make_node("Reshape", [h, one], [y_h], name=f"{base}_y_h"))
    if y_c:
        made.append(helper.make_node("Reshape", [c, one], [y_c], name=f"{base}_y_c"))
    return made
