"""High-bias absorption: a channel's smallest calibrated pre-activation moves from the first convolution's bias
into the second's, exactly in float, narrowing the activation between them; pairs it cannot move exactly (a padded
second convolution) stay as they were; a bias another layer shares is not changed under it."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from onnpu.quantization.bias_absorption import absorb_high_biases
from onnpu.quantization.equalization import equalize, equalized_model

C = 8


def _run(model: onnx.ModelProto, x: np.ndarray, outputs: list[str] | None = None) -> list[np.ndarray]:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for name in outputs or []:
        probe.graph.output.add(name=name)
    session = ort.InferenceSession(probe.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return [np.asarray(v) for v in session.run(None, {"x": x})]


def _block(act: str, second_pads: int = 0, shared_bias: bool = False, bounded: bool = True) -> onnx.ModelProto:
    """Conv (biases lifting half the channels well above 0) → act → Conv; ``act`` "relu", "relu6" or "" (linear).
    With ``shared_bias`` a third convolution reads the first one's bias too."""
    rng = np.random.default_rng(0)
    bias = np.where(np.arange(C) % 2 == 0, 4.0, 0.0) + rng.normal(0, 0.1, C)
    inits = [numpy_helper.from_array(rng.normal(0, 0.2, (C, 3, 3, 3)).astype(np.float32), "w1"),
             numpy_helper.from_array(bias.astype(np.float32), "b1"),
             numpy_helper.from_array(rng.normal(0, 0.5, (4, C, 1 + 2 * second_pads, 1 + 2 * second_pads))
                                     .astype(np.float32), "w2"),
             numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
             numpy_helper.from_array(np.array(6.0, np.float32), "hi"),
             numpy_helper.from_array(np.array(1.0, np.float32), "one")]
    nodes = [helper.make_node("Clip", ["x", "lo", "one"] if bounded else ["x"], ["xc"]),  # bounded: a ReLU6 before
             helper.make_node("Conv", ["xc", "w1", "b1"], ["a"], pads=[1, 1, 1, 1], name="first")]
    middle = "a"
    if act == "relu":
        nodes.append(helper.make_node("Relu", ["a"], ["r"]))
        middle = "r"
    elif act == "relu6":
        nodes.append(helper.make_node("Clip", ["a", "lo", "hi"], ["r"]))
        middle = "r"
    nodes.append(helper.make_node("Conv", [middle, "w2"], ["y"], pads=[second_pads] * 4, name="second"))
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if shared_bias:
        nodes.append(helper.make_node("Conv", ["x", "w1", "b1"], ["z"], pads=[1, 1, 1, 1], name="other"))
        outputs.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "block", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 12, 12])],
                              outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _inputs(count: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(0, 1, (1, 3, 12, 12)).astype(np.float32) for _ in range(count)]


def _activation_top(model: onnx.ModelProto, xs: list[np.ndarray]) -> float:
    """The largest value the second convolution reads."""
    second = next(n for n in model.graph.node if n.name == "second")
    return max(float(_run(model, x, [second.input[0]])[-1].max()) for x in xs)


def test_relu_and_bounded_relu_pairs_move_their_high_biases_exactly_for_any_input() -> None:
    """The amount moved is a floor interval arithmetic guarantees (the bounded input through the weights), not
    the calibration inputs' smallest value: inputs far outside the calibrated ones give the same outputs."""
    calibration = _inputs(12, 1)
    heldout = [np.random.default_rng(2).normal(0, 5, (1, 3, 12, 12)).astype(np.float32) for _ in range(4)]
    for act in ("relu", "relu6"):
        model = _block(act)
        before = [_run(model, x)[0] for x in heldout]
        if act == "relu6":
            equalize(model)  # ReLU6 as Relu + per-channel Min, as equalisation writes it
        top = _activation_top(model, calibration)
        assert absorb_high_biases(model, [{"x": x} for x in calibration]) == 1, act
        after = [_run(model, x)[0] for x in heldout]
        for b, a in zip(before, after, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * float(np.abs(b).max()))
        assert _activation_top(model, calibration) < top - 2.0, (act, top, _activation_top(model, calibration))


def test_a_linear_pair_is_centred_exactly_for_any_input() -> None:
    model = _block("")
    calibration = _inputs(8, 3)
    far = [np.random.default_rng(4).normal(0, 5, (1, 3, 12, 12)).astype(np.float32)]  # far outside calibration
    before = _run(model, far[0])[0]
    second = "a"
    width = max(float(np.ptp(_run(model, x, [second])[-1])) for x in calibration)
    assert absorb_high_biases(model, [{"x": x} for x in calibration]) == 1
    np.testing.assert_allclose(_run(model, far[0])[0], before, rtol=1e-4, atol=1e-4 * float(np.abs(before).max()))
    assert max(float(np.ptp(_run(model, x, [second])[-1])) for x in calibration) < width - 2.0


def test_pairs_it_cannot_move_exactly_are_left_as_they_were() -> None:
    """A padded second convolution (its border reads 0, not −c); a first one whose input has no bound (no floor
    to guarantee, whatever the calibration inputs show)."""
    for model in (_block("relu", second_pads=1), _block("relu", bounded=False)):
        weights = {t.name: numpy_helper.to_array(t).copy() for t in model.graph.initializer}
        assert absorb_high_biases(model, [{"x": x} for x in _inputs(6, 5)]) == 0
        assert all(np.array_equal(numpy_helper.to_array(t), weights[t.name]) for t in model.graph.initializer)


def test_a_shared_bias_is_not_changed_under_the_other_layer() -> None:
    model = _block("relu", shared_bias=True)
    x = _inputs(1, 6)[0]
    before = _run(model, x)
    assert absorb_high_biases(model, [{"x": v} for v in _inputs(8, 7)]) == 1
    after = _run(model, x)
    np.testing.assert_array_equal(after[1], before[1])  # the other convolution still reads the original bias
    assert "b1" in {t.name for t in model.graph.initializer}


def test_equalisation_reports_the_absorbed_pairs_and_keeps_float_outputs() -> None:
    model = _block("relu6")
    calibration = [{"x": x} for x in _inputs(12, 8)]
    changed, report, line = equalized_model(model, calibration)
    assert report.absorbed == 1 and "high biases absorbed in 1" in line, line
    _, report, line = equalized_model(model, calibration, absorb=False)
    assert report.absorbed == 0 and "absorbed" not in line, line
    x = np.random.default_rng(9).normal(0, 5, (1, 3, 12, 12)).astype(np.float32)
    np.testing.assert_allclose(_run(changed, x)[0], _run(model, x)[0], rtol=1e-4, atol=1e-3)
