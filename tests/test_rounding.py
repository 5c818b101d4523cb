from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import numpy_helper

import models
from onnpu import get_target, inspect_model, jsonio, run_model
from onnpu.cli import main
from onnpu.model.files import read_model
from onnpu.quantization.config import QuantizeConfig
from onnpu.quantization.pipeline import quantize
from onnpu.runtime.session import create_session


@pytest.fixture(scope="module")
def rounded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("rounding")
    src = models.save(models.layer_zoo(), tmp / "zoo.onnx")
    nearest = quantize(src, tmp / "nearest.onnx", "random", holdout=0.25,
                       config=QuantizeConfig(rounding="nearest", range_search=False))
    optimized = quantize(src, tmp / "optimized.onnx", "random", holdout=0.25,
                         config=QuantizeConfig(rounding="optimized", range_search=False))
    return {"tmp": tmp, "src": src, "nearest": nearest, "optimized": optimized}


def test_every_layer_kind_is_rerounded_with_less_error(rounded: dict[str, object]) -> None:
    report = rounded["optimized"].rounding  # type: ignore[attr-defined]
    kinds = {(r.op_type, r.groups > 1) for r in report.layers}
    assert kinds == {("Conv", False), ("Conv", True), ("ConvTranspose", False), ("MatMul", False), ("Gemm", False)}
    assert {r.name for r in report.layers} == {"conv", "grouped", "depthwise", "upsample", "matmul", "fc"}
    for layer in report.layers:
        assert layer.error_optimized <= layer.error_nearest, layer  # measured on check inputs: never worse
    assert sum(layer.choice == "optimized" for layer in report.layers) >= 4
    assert report.kept_nearest == sum(layer.choice != "optimized" for layer in report.layers)
    assert report.improvement > 1.5


def test_better_on_held_out_inputs(rounded: dict[str, object]) -> None:
    near = rounded["nearest"].quality[0].sqnr_db  # type: ignore[attr-defined]
    opt = rounded["optimized"].quality[0].sqnr_db  # type: ignore[attr-defined]
    assert opt > near + 1.0, (near, opt)


def test_same_qdq_layout_only_integers_change(rounded: dict[str, object]) -> None:
    tmp = rounded["tmp"]
    a = {t.name: numpy_helper.to_array(t) for t in read_model(tmp / "nearest.onnx").graph.initializer}  # type: ignore[operator]
    b = {t.name: numpy_helper.to_array(t) for t in read_model(tmp / "optimized.onnx").graph.initializer}  # type: ignore[operator]
    assert a.keys() == b.keys()
    changed = [k for k in a if not np.array_equal(a[k], b[k])]
    assert changed and all(k.endswith(("_quantized", "_bias_quantized")) or "bias" in k for k in changed), changed
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape
        if k.endswith(("_scale", "_zero_point")):
            np.testing.assert_array_equal(a[k], b[k])
    assert [n.op_type for n in read_model(tmp / "nearest.onnx").graph.node] == \
        [n.op_type for n in read_model(tmp / "optimized.onnx").graph.node]  # type: ignore[operator]


def test_deterministic(rounded: dict[str, object]) -> None:
    tmp = rounded["tmp"]
    quantize(rounded["src"], tmp / "again.onnx", "random", holdout=0.25,  # type: ignore[operator, arg-type]
             config=QuantizeConfig(rounding="optimized", range_search=False))
    first = {t.name: t.SerializeToString() for t in read_model(tmp / "optimized.onnx").graph.initializer}  # type: ignore[operator]
    again = {t.name: t.SerializeToString() for t in read_model(tmp / "again.onnx").graph.initializer}  # type: ignore[operator]
    assert first == again


@pytest.mark.npu
def test_runs_fully_on_the_npu_within_one_step_of_cpu(rounded: dict[str, object], tmp_path: Path) -> None:
    """The HTP computes an optimised-rounding layer like the exact CPU QDQ arithmetic, to one output step.
    (Through several layers one-step differences propagate, for nearest rounding just the same.)"""
    path = rounded["tmp"] / "optimized.onnx"  # type: ignore[operator]
    x = {"x": np.random.default_rng(3).random((1, 8, 12, 12), dtype=np.float32)}
    npu = run_model(path, get_target("npu", allow_fallback=False), inputs=x)
    assert npu.placement is not None and npu.placement.fully_on_target
    src = models.save(models.single_conv(), tmp_path / "one.onnx")
    one = tmp_path / "one.qdq.onnx"
    quantize(src, one, "random", config=QuantizeConfig(rounding="optimized", range_search=False))
    x = {"x": np.random.default_rng(4).random((1, 3, 16, 16), dtype=np.float32)}
    on_npu = run_model(one, get_target("npu", allow_fallback=False), inputs=x).outputs["y"]
    exact = run_model(one, get_target("cpu"), inputs=x,
                      session=create_session(one, get_target("cpu"), optimization="disabled")).outputs["y"]
    step = inspect_model(one).outputs[0].quant.scale[0]  # type: ignore[union-attr]
    assert np.max(np.abs(on_npu - exact)) <= step + 1e-6


def test_cli_rounding_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = models.save(models.classifier(), tmp_path / "cls.onnx")
    assert main(["quantize", str(src), "-o", str(tmp_path / "q.onnx"), "--calib", "random",
                 "--rounding", "optimized", "--json"]) == 0
    data = jsonio.loads(capsys.readouterr().out)
    assert data["rounding"]["method"] == "gptq" and len(data["rounding"]["layers"]) == 2
    assert data["quality"][0]["sqnr_db"] > data["nearest_quality"][0]["sqnr_db"]  # optimized never loses


def _direct_error(w: np.ndarray, wq: np.ndarray, shift: np.ndarray | None, x: np.ndarray, xq: np.ndarray) -> float:
    residual = x @ w.T - xq @ wq.T - (0 if shift is None else shift)
    return float(np.sum(residual ** 2))


def test_error_from_statistics_equals_the_direct_sum() -> None:
    """The per-layer error the choice rests on, computed from second moments, is Σ ‖W x − Ŵ x̃ − s‖² itself."""
    from onnpu.quantization.rounding_solve import _PerRow, error
    from onnpu.quantization.rounding_stats import PairStats

    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 12)).astype(np.float32)
    xq = x + rng.normal(scale=0.05, size=x.shape).astype(np.float32)
    w, wq = rng.normal(size=(5, 12)), rng.normal(size=(5, 12))
    shift = rng.normal(size=5)
    stats = _PerRow(PairStats.of(xq.T[None], x.T[None], with_float=True), 5)
    for s in (None, shift):
        assert error(stats, w, wq, s) == pytest.approx(_direct_error(w, wq, s, x.astype(np.float64), xq), rel=1e-5)


def test_a_small_work_budget_uses_fewer_inputs_says_so_and_never_depends_on_the_clock(tmp_path: Path) -> None:
    """The statistics stop at a count of multiply-adds, not at a time: the same model twice, also with the
    other core busy, and the inputs used are at least MIN_SAMPLES."""
    import threading

    from onnpu.model.inspection import tensor_infos
    from onnpu.quantization.calibration import load_calibration
    from onnpu.quantization.rounding import MIN_SAMPLES, optimize_rounding

    src = models.layer_zoo()
    quantize(models.save(src, tmp_path / "zoo.onnx"), tmp_path / "n.onnx", "random",
             config=QuantizeConfig(rounding="nearest", range_search=False))
    data = load_calibration("random", tensor_infos(src)[0], holdout=0, random_count=32)
    nearest = read_model(tmp_path / "n.onnx")
    first, report = optimize_rounding(nearest, src, data.calibration, work_budget=1.0)
    assert report.samples == MIN_SAMPLES < len(data.calibration)
    assert any(f"from {MIN_SAMPLES} of {len(data.calibration)} inputs" in note for note in report.notes)
    busy = threading.Event()

    def spin() -> None:
        while not busy.is_set():
            sum(range(10_000))

    worker = threading.Thread(target=spin)
    worker.start()
    try:
        second, again = optimize_rounding(nearest, src, data.calibration, work_budget=1.0)
    finally:
        busy.set()
        worker.join()
    assert again.samples == report.samples and second.SerializeToString() == first.SerializeToString()
    _, whole = optimize_rounding(nearest, src, data.calibration, work_budget=None)
    assert whole.samples == len(data.calibration) and not any("work budget" in n for n in whole.notes)


def test_a_covariance_that_is_not_positive_definite_keeps_nearest_rounding() -> None:
    """Inputs whose mean dwarfs their spread can leave the centred covariance indefinite in float64 even after
    damping (U²-Net-p's did: "Matrix is not positive definite"): the layer keeps nearest rounding, the model
    is still quantized."""
    import numpy as np
    from onnx import helper

    from onnpu.quantization.rounding_solve import candidates
    from onnpu.quantization.rounding_stats import Layer, PairStats

    layer = Layer(helper.make_node("MatMul", ["x", "w"], ["y"]), "w", np.array([0.01]), np.array([0]), 1,
                  np.dtype(np.int8))
    indefinite = np.array([[[1.0, 3.0], [3.0, 1.0]]])  # eigenvalues 4 and -2
    fit = PairStats(indefinite, None, indefinite.copy(), np.zeros((1, 2)), np.zeros((1, 2)), 10)
    weight = np.array([[0.113, -0.52, 0.3], [0.071, 0.2, -0.094]], np.float32)  # [d, rows] as MatMul holds it
    found, _ = candidates(layer, weight, fit, None, bias_correction=False)
    assert [c.name for c in found] == ["nearest"]


def _objective(q: np.ndarray, target: np.ndarray, h: np.ndarray, scale: np.ndarray, zp: np.ndarray) -> float:
    from onnpu.quantization.rounding_solve import _damped

    hd = _damped(h[None] if h.ndim == 2 else h)
    diff = (q - zp[:, None]) * scale[:, None] - target
    if h.ndim == 2:
        return float(np.sum((diff @ hd[0]) * diff))
    return float(np.einsum("rd,rde,re->", diff, hd, diff))


@pytest.mark.parametrize("per_row", [False, True])
def test_local_search_lowers_the_rounding_objective_to_a_local_minimum(per_row: bool) -> None:
    """After second-order rounding, moving single integers one step lowers Σ (ŵ − t) H (ŵ − t)ᵀ further
    (correlated inputs, where greedy column-by-column rounding leaves most on the table); at the end no single
    step lowers it, and the integers stay in the type's range."""
    from onnpu.quantization.rounding_solve import gptq, gptq_per_row, refine

    rng = np.random.default_rng(3)
    rows, d = 24, 16
    basis = rng.normal(size=(d, 4))
    x = rng.normal(size=(400, 4)) @ basis.T + 0.05 * rng.normal(size=(400, d))  # inputs on a few directions
    target = rng.normal(scale=0.4, size=(rows, d))
    scale = np.full(rows, 0.02)
    zp = np.zeros(rows)
    lo, hi = -128, 127
    if per_row:
        h = np.stack([x[i::rows].T @ x[i::rows] + 1e-3 * np.eye(d) for i in range(rows)])
        start = gptq_per_row(target, h, scale, zp, lo, hi)
    else:
        h = x.T @ x
        start = gptq(target, h, scale, zp, lo, hi)
    refined = refine(start, target, h, scale, zp, lo, hi, passes=50)
    before, after = _objective(start, target, h, scale, zp), _objective(refined, target, h, scale, zp)
    assert after < 0.99 * before, (before, after)
    assert refined.min() >= lo and refined.max() <= hi
    for r, j, step in ((r, j, s) for r in range(0, rows, 5) for j in range(d) for s in (1, -1)):
        moved = refined.copy()
        moved[r, j] += step
        assert _objective(moved, target, h, scale, zp) >= after - 1e-9 * abs(after)


def test_a_model_with_no_layer_to_round_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No Conv/Gemm/MatMul with float weights (here: none at all): the report says there was nothing to re-round,
    not "÷inf" nor a work budget that used no input."""
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Add", ["r", "x"], ["y"])],
                              "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    src = models.save(model, tmp_path / "m.onnx")
    assert main(["quantize", str(src), "-o", str(tmp_path / "q.onnx"), "--calib", "random", "--no-npu"]) == 0
    text = capsys.readouterr().out
    assert "optimized rounding: no layer to re-round" in text and "÷inf" not in text
    assert "work budget" not in text
