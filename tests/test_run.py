from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import models
from conftest import sha256
from onnpu import InputDataError, get_target, run_model
from onnpu.cli import main


@pytest.fixture
def conv(tmp_path: Path) -> Path:
    return models.save(models.float_conv(), tmp_path / "conv.onnx")


def test_random_inputs_are_seeded(conv: Path) -> None:
    a = run_model(conv, get_target("cpu"), seed=4).outputs["y"]
    b = run_model(conv, get_target("cpu"), seed=4).outputs["y"]
    c = run_model(conv, get_target("cpu"), seed=5).outputs["y"]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize(("inputs", "message"), [
    ({"image": np.zeros((1, 3, 16, 16), np.float32)}, "no input named 'image'"),
    ({"x": np.zeros((1, 3, 8, 8), np.float32)}, r"has shape \[1, 3, 8, 8\], the model expects \[1, 3, 16, 16\]"),
    ({"x": np.zeros((1, 3, 16, 16), np.int32)}, "has dtype int32, the model expects float32"),
    ({"x": np.full((1, 3, 16, 16), np.nan, np.float32)}, "contains NaN or Inf"),
    ({}, "input 'x' was not given"),
])
def test_bad_inputs(conv: Path, inputs: dict[str, np.ndarray], message: str) -> None:
    with pytest.raises(InputDataError, match=message):
        run_model(conv, get_target("cpu"), inputs=inputs)


def test_dynamic_input_needs_dim_for_random_data(tmp_path: Path) -> None:
    path = models.save(models.float_conv(batch="N"), tmp_path / "dyn.onnx")
    with pytest.raises(InputDataError, match="dynamic dimension N"):
        run_model(path, get_target("cpu"))
    assert run_model(path, get_target("cpu"), dims={"N": 2}).outputs["y"].shape == (2, 4, 16, 16)


def test_cli_inputs_from_npy_and_outputs_to_npz(conv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = np.random.default_rng(0).random((1, 3, 16, 16), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "out.npz"
    before = sha256(conv)
    assert main(["run", str(conv), "--input", f"x={tmp_path / 'x.npy'}", "-o", str(out)]) == 0
    expected = run_model(conv, get_target("cpu"), inputs={"x": x}).outputs["y"]
    with np.load(out) as saved:
        np.testing.assert_array_equal(saved["y"], expected)
    out_text = capsys.readouterr().out
    assert "placement: 3 of 3 nodes on the CPU" in out_text and f"outputs saved to {out}" in out_text
    assert sha256(conv) == before


def test_cli_npz_with_all_inputs(conv: Path, tmp_path: Path) -> None:
    x = np.random.default_rng(1).random((1, 3, 16, 16), dtype=np.float32)
    np.savez(tmp_path / "in.npz", x=x)
    assert main(["run", str(conv), "--input", str(tmp_path / "in.npz"), "-o", str(tmp_path / "out.npz")]) == 0
    with np.load(tmp_path / "out.npz") as saved:  # the .npz's array reached the model's input
        np.testing.assert_array_equal(saved["y"], run_model(conv, get_target("cpu"), inputs={"x": x}).outputs["y"])


def test_cli_errors(conv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(conv), "--target", "gpu9"]) == 1
    assert "unknown target 'gpu9'" in capsys.readouterr().err
    assert main(["run", str(conv), "--target", "npu", "--ep-option", "htp_arch=99"]) == 1
    assert "invalid value '99' for QNN provider option 'htp_arch'" in capsys.readouterr().err
    assert main(["run", str(conv), "--input", f"x={tmp_path / 'nope.npy'}"]) == 1
    assert "nope.npy: input file not found" in capsys.readouterr().err


@pytest.mark.npu
def test_cli_npu_reports_placement(conv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a float model: it needs an HTP that computes float (QCS8550, v73; QCS6490's v68 computes none)
    assert main(["run", str(conv), "--target", "npu", "--no-fallback", "--random", "--soc", "qcs8550"]) == 0
    out = capsys.readouterr().out
    assert "3 of 3 nodes on the NPU" in out


@pytest.mark.npu
def test_cli_no_fallback_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = models.save(models.unsupported_op(), tmp_path / "unique.onnx")
    assert main(["run", str(path), "--target", "npu", "--no-fallback", "--soc", "qcs8550"]) == 3  # ExitCode.REFUSED
    err = capsys.readouterr().err
    assert "cannot run fully on npu" in err and "unique (Unique)" in err


def test_json_counts_the_non_finite_values_it_writes_as_null(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Strict JSON writes a NaN or infinite min/max as null, as it writes an empty output's: the counts of NaN, +Inf
    and -Inf say which."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from onnpu import jsonio

    values = numpy_helper.from_array(np.array([1.0, 0.0, -1.0, 0.0], np.float32), "d")
    nodes = [helper.make_node("Div", ["x", "d"], ["y"])]  # x / [1, 0, -1, 0]: x, ±inf, -x, nan where x is 0
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], [values])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "m.onnx"))
    np.save(tmp_path / "x.npy", np.array([2.0, 3.0, 4.0, 0.0], np.float32))
    assert main(["run", str(tmp_path / "m.onnx"), "--target", "cpu", "--input", f"x={tmp_path / 'x.npy'}",
                 "--json"]) == 0
    y = jsonio.loads(capsys.readouterr().out)["outputs"]["y"]
    assert (y["min"], y["max"]) == (None, None) and (y["nan"], y["pos_inf"], y["neg_inf"]) == (1, 1, 0)
