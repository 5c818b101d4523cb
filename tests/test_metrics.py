"""One implementation per figure: SQNR, top-k (one tie rule), drift in quantization steps (per axis), and the
graph helpers every module uses."""

from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from onnpu import jsonio
from onnpu.metrics import compare_outputs, drift_in_steps, ratio_db, sqnr_db, top_k
from onnpu.model.graphs import consumers, producers, topological_nodes, topological_order, upstream


def test_sqnr_of_identical_outputs_is_infinite_and_written_as_null() -> None:
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert sqnr_db(x, x) == math.inf
    assert sqnr_db(x, x + 1) == pytest.approx(10 * math.log10(float(np.sum(x.astype(np.float64) ** 2)) / 12))
    assert ratio_db(0.0, 1.0) == -math.inf and ratio_db(100.0, 1.0) == pytest.approx(20.0)
    quality = compare_outputs("y", [x], [x])
    assert jsonio.loads(jsonio.dumps(quality))["sqnr_db"] is None  # strict JSON: Infinity becomes null


def test_one_tie_rule_for_top_k_and_agreement() -> None:
    scores = np.array([0.1, 0.4, 0.4, 0.05, 0.4, 0.05])
    assert top_k(scores, 3).tolist() == [1, 2, 4]  # equal scores keep class order, as argmax does
    assert top_k(np.stack([scores, scores[::-1]]), 2).tolist() == [[1, 2], [1, 3]]
    # the same rule decides top-1 agreement: a tie broken the same way on both sides agrees
    a, b = scores.copy(), scores.copy()
    b[4] += 1e-9  # class 4 now wins outright on one side
    quality = compare_outputs("logits", [a], [b])
    assert quality.top1_agreement == 0.0 and quality.top5_overlap == 1.0
    assert compare_outputs("logits", [a], [a.copy()]).top1_agreement == 1.0


def test_drift_in_steps_per_axis_per_tensor_and_integer() -> None:
    a = np.zeros((1, 3, 2, 2))
    b = a.copy()
    b[0, 0] += 0.2  # channel 0: step 0.1 → 2 steps
    b[0, 2, 0, 0] += 3.0  # channel 2: step 1.0 → 3 steps on one value
    per_axis = drift_in_steps([b], [a], scale=(0.1, 0.5, 1.0), axis=1)
    assert per_axis.kind == "quantized" and per_axis.max_steps == 3.0 and per_axis.step == 1.0
    assert per_axis.share_beyond == pytest.approx(1 / 12) and per_axis.flagged  # 3 > 2 steps
    per_tensor = drift_in_steps([b], [a], scale=(0.1,))
    assert per_tensor.max_steps == 30.0 and per_tensor.max_abs_diff == pytest.approx(3.0)
    ints = drift_in_steps([np.array([3, 5], np.uint8)], [np.array([4, 5], np.uint8)], integer=True)
    assert (ints.kind, ints.max_steps, ints.mean_steps) == ("integer", 1.0, 0.5)
    floats = drift_in_steps([b], [a])
    assert floats.kind == "float" and floats.max_steps is None and not floats.flagged
    with pytest.raises(ValueError, match="do not fit"):
        drift_in_steps([b], [a], scale=(0.1, 0.5), axis=1)
    quality = compare_outputs("y", [a], [b], scale=(0.1, 0.5, 1.0), axis=1)
    assert quality.max_steps == 3.0


def _diamond() -> onnx.GraphProto:
    """x → a → {b, c} → d, stored out of order (d first), with a constant that feeds c."""
    nodes = [helper.make_node("Add", ["b", "c"], ["d"], name="n_d"),
             helper.make_node("Relu", ["x"], ["a"], name="n_a"),
             helper.make_node("Neg", ["a"], ["b"], name="n_b"),
             helper.make_node("Mul", ["a", "k"], ["c"], name="n_c")]
    value = helper.make_tensor_value_info
    return helper.make_graph(nodes, "g", [value("x", TensorProto.FLOAT, [2])], [value("d", TensorProto.FLOAT, [2])],
                             [helper.make_tensor("k", TensorProto.FLOAT, [1], [2.0])])


def test_graph_helpers() -> None:
    graph = _diamond()
    assert {name: node.name for name, node in producers(graph).items()} == {"d": "n_d", "a": "n_a", "b": "n_b",
                                                                          "c": "n_c"}
    assert [n.name for n in consumers(graph)["a"]] == ["n_b", "n_c"]
    assert [n.name for n in topological_nodes(graph)] == ["n_a", "n_b", "n_c", "n_d"]
    assert topological_order(graph) == [1, 2, 3, 0]
    assert upstream(graph, ["d"]) == {0, 1, 2, 3}
    assert upstream(graph, ["d"], stop=["a"]) == {0, 2, 3}  # the walk ends at a
    assert upstream(graph, ["b"]) == {1, 2}


def test_drift_flag_scales_with_the_outputs_width() -> None:
    """A uint16 output's step is 1/257 of a uint8 one over the same range: 168 steps of it (the text encoder's
    last_hidden_state on the NPU) is less than one 8-bit step and not flagged; the flag sits at 2 steps of an 8-bit
    grid, 514 steps, and the share beyond is counted against it."""
    from onnpu.metrics import flag_steps
    from onnpu.model.qparams import QuantParams

    assert flag_steps(8) == 2.0 and flag_steps(16) == pytest.approx(514.0)
    assert QuantParams((0.1,), (0,), "uint16").bits == 16 and QuantParams((0.1,), (0,), "int8").bits == 8
    a = np.zeros(1000)
    b = a.copy()
    b[:10] = 168 * 1e-4
    wide = drift_in_steps([b], [a], scale=(1e-4,), bits=16)
    assert wide.max_steps == pytest.approx(168.0) and not wide.flagged and wide.share_beyond == 0.0
    b[0] = 600 * 1e-4
    wide = drift_in_steps([b], [a], scale=(1e-4,), bits=16)
    assert wide.flagged and wide.share_beyond == pytest.approx(0.001)
    assert drift_in_steps([b], [a], scale=(1e-4,)).share_beyond == pytest.approx(0.01)  # the same at 8 bits
