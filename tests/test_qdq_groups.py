"""Completing QDQ groups around pools (what HTP v68 needs) is exact: checked on the exact CPU arithmetic for
each pool kind, for a following QuantizeLinear of the other 8-bit type, and left alone where it does not apply."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from onnpu.model.qdq_groups import complete_qdq_groups
from onnpu.runtime.session import exact_cpu_session


def pooled(pool: str, out_type: int = TensorProto.UINT8, out_zp: int = 3, extra_reader: bool = False,
           direct_q: bool = False) -> onnx.ModelProto:
    """u8 input → DQ → pool → Flatten → Q(out_type) → DQ → output."""
    inits = [helper.make_tensor("s", TensorProto.FLOAT, [], [0.05]),
             helper.make_tensor("z", TensorProto.UINT8, [], [7]),
             helper.make_tensor("so", TensorProto.FLOAT, [], [0.011]),
             helper.make_tensor("zo", out_type, [], [out_zp])]
    attrs = {"kernel_shape": [2, 2]} if pool in ("AveragePool", "MaxPool") else {}
    if pool == "ReduceMean":
        inits.append(helper.make_tensor("axes", TensorProto.INT64, [2], [2, 3]))
    pool_inputs = ["xf", "axes"] if pool == "ReduceMean" else ["xf"]
    nodes = [helper.make_node("DequantizeLinear", ["x", "s", "z"], ["xf"], name="dq_in"),
             helper.make_node(pool, pool_inputs, ["p"], name="pool", **attrs)]
    if direct_q:
        nodes += [helper.make_node("QuantizeLinear", ["p", "so", "zo"], ["pq"], name="q_pool"),
                  helper.make_node("DequantizeLinear", ["pq", "so", "zo"], ["pd"], name="dq_pool"),
                  helper.make_node("Flatten", ["pd"], ["f"], name="flatten")]
    else:
        nodes.append(helper.make_node("Flatten", ["p"], ["f"], name="flatten"))
    nodes += [helper.make_node("QuantizeLinear", ["f", "so", "zo"], ["fq"], name="q_out"),
              helper.make_node("DequantizeLinear", ["fq", "so", "zo"], ["y"], name="dq_out")]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, None])]
    if extra_reader:
        outputs.append(helper.make_tensor_value_info("p", TensorProto.FLOAT, [1, 4, None, None]))
    graph = helper.make_graph(nodes, "pooled", [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 4, 6, 6])],
                              outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    onnx.checker.check_model(model)
    return model


@pytest.mark.parametrize("pool", ["GlobalAveragePool", "AveragePool", "ReduceMean", "MaxPool", "GlobalMaxPool"])
@pytest.mark.parametrize(("out_type", "out_zp"), [(TensorProto.UINT8, 3), (TensorProto.INT8, -125)])
def test_group_completion_is_exact(pool: str, out_type: int, out_zp: int) -> None:
    model = pooled(pool, out_type, out_zp)
    fixed, fixes = complete_qdq_groups(model)
    assert [(f.node, f.op_type, f.via) for f in fixes] == [("pool", pool, ("flatten",))]
    ops = [n.op_type for n in fixed.graph.node]
    assert ops[ops.index(pool) + 1: ops.index(pool) + 3] == ["QuantizeLinear", "DequantizeLinear"]
    inserted = next(n for n in fixed.graph.node if n.name == "pool_onnpu_group_q")
    zp = next(t for t in fixed.graph.initializer if t.name == inserted.input[2])
    assert zp.data_type == TensorProto.UINT8  # the input's 8-bit type, the same real range
    assert fixes[0].zero_point == (out_zp if out_type == TensorProto.UINT8 else out_zp + 128)
    x = {"x": np.random.default_rng(1).integers(0, 256, (1, 4, 6, 6)).astype(np.uint8)}
    before = exact_cpu_session(model).run(x)[0]
    after = exact_cpu_session(fixed).run(x)[0]
    np.testing.assert_array_equal(before, after)
    assert model.graph.node[1].op_type == pool and len(model.graph.node) == len(fixed.graph.node) - 2  # pure


def test_complete_groups_and_other_readers_are_left_alone() -> None:
    assert complete_qdq_groups(pooled("GlobalAveragePool", direct_q=True))[1] == []
    assert complete_qdq_groups(pooled("GlobalAveragePool", extra_reader=True))[1] == []
