from __future__ import annotations

from pathlib import Path

import pytest

import models
from conftest import sha256
from onnpu import ShapeError, inspect_model
from onnpu.cli import main
from onnpu.model.files import write_model
from onnpu.model.shapes import fix_shapes
from onnpu.runtime.feeds import runs_once_on_cpu


def test_fix_dim_by_name(tmp_path: Path) -> None:
    src = models.save(models.float_conv(batch="N"), tmp_path / "dyn.onnx")
    before = sha256(src)
    result = fix_shapes(src, tmp_path / "fixed.onnx", dims={"N": 1})
    assert result.inputs == {"x": [1, 3, 16, 16]} and result.outputs == {"y": [1, 4, 16, 16]}
    assert "dim N = 1" in result.changes
    assert inspect_model(tmp_path / "fixed.onnx").dynamic_inputs == {}
    assert sha256(src) == before


def test_fix_input_shape(tmp_path: Path) -> None:
    src = models.save(models.two_dynamic_dims(), tmp_path / "dyn.onnx")
    result = fix_shapes(src, tmp_path / "fixed.onnx", shapes={"x": [2, 3, 24, 20]})
    assert result.outputs == {"y": [2, 4, 24, 20]}


def test_remaining_dynamic_dims_fail_unless_allowed(tmp_path: Path) -> None:
    src = models.save(models.two_dynamic_dims(), tmp_path / "dyn.onnx")
    with pytest.raises(ShapeError, match="dynamic dims remain after fixing: x: H, W; y: H, W") as info:
        fix_shapes(src, tmp_path / "out.onnx", dims={"N": 1})
    assert "--allow-dynamic" in (info.value.hint or "")
    assert not (tmp_path / "out.onnx").exists()
    result = fix_shapes(src, tmp_path / "out.onnx", dims={"N": 1}, allow_dynamic=True)
    assert result.remaining == {"x": ["H", "W"], "y": ["H", "W"]}


@pytest.mark.parametrize(("dims", "shapes", "message"), [
    ({"M": 1}, None, r"no dimension named 'M' \(the model's symbolic dims: H, N, W\)"),
    (None, {"image": [1, 3, 8, 8]}, "no input named 'image'"),
    ({"N": 1}, {"x": [2, 3, 8, 8]}, r"--dim N=1 and --input x \(dim 0 = 2\) conflict"),
    (None, {"x": [1, 3, 8]}, "gives 3 dims, the input has 4"),
    (None, {"x": [1, 4, 8, 8]}, "sets dim 1 to 4, but it is fixed at 3"),
    (None, None, "nothing to fix"),
])
def test_bad_requests(tmp_path: Path, dims: dict[str, int] | None, shapes: dict[str, list[int]] | None,
                      message: str) -> None:
    src = models.save(models.two_dynamic_dims(), tmp_path / "dyn.onnx")
    with pytest.raises(ShapeError, match=message):
        fix_shapes(src, tmp_path / "out.onnx", dims=dims, shapes=shapes)


def test_external_data_stays_together(tmp_path: Path) -> None:
    src = write_model(models.float_conv(batch="N", hidden=64), tmp_path / "ext.onnx", external_data=True)
    out = tmp_path / "out" / "fixed.onnx"
    out.parent.mkdir()
    fix_shapes(src, out, dims={"N": 1})
    assert sorted(p.name for p in out.parent.iterdir()) == ["fixed.onnx", "fixed.onnx.data"]
    assert inspect_model(out).external_data == ["fixed.onnx.data"]
    assert inspect_model(out).parameter_count == 64 * 3 * 3 * 3 + 4 * 64


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = models.save(models.two_dynamic_dims(), tmp_path / "dyn.onnx")
    assert main(["fix-shapes", str(src), "-o", str(tmp_path / "f.onnx"), "--input", "x=1,3,32,32"]) == 0
    out = capsys.readouterr().out
    assert "[N, 3, H, W] → [1, 3, 32, 32]" in out
    assert main(["fix-shapes", str(src), "-o", str(src), "--dim", "N=1", "--allow-dynamic"]) == 1
    assert "would overwrite the input model" in capsys.readouterr().err


def test_a_model_fixed_at_one_size_is_resized_only_when_asked(tmp_path: Path) -> None:
    """A fully convolutional model exported at one fixed size (CenterFace ships at 10x3x32x32): --input may
    change its fixed dims with --override-fixed, and the outputs are recomputed; without it, the one-line error
    names the option."""
    import numpy as np
    import onnxruntime as ort

    src = models.save(models.float_conv(batch=10, size=32), tmp_path / "fixed.onnx")
    with pytest.raises(ShapeError, match="fixed at 10") as refused:
        fix_shapes(src, tmp_path / "no.onnx", shapes={"x": [1, 3, 48, 64]})
    assert "--override-fixed" in (refused.value.hint or "")
    assert not (tmp_path / "no.onnx").exists()
    result = fix_shapes(src, tmp_path / "big.onnx", shapes={"x": [1, 3, 48, 64]}, override=True)
    assert result.inputs["x"] == [1, 3, 48, 64] and result.outputs["y"] == [1, 4, 48, 64]
    session = ort.InferenceSession(str(tmp_path / "big.onnx"), providers=["CPUExecutionProvider"])
    assert session.run(None, {"x": np.zeros((1, 3, 48, 64), np.float32)})[0].shape == (1, 4, 48, 64)


def test_a_graph_that_computes_sizes_from_its_export_is_not_resized(tmp_path: Path) -> None:
    """A Reshape to a size baked at export cannot take another input size: refused with the fix, nothing
    written."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    shape = numpy_helper.from_array(np.array([1, 3 * 32 * 32], np.int64), "shape")
    graph = helper.make_graph([helper.make_node("Reshape", ["x", "shape"], ["y"])], "baked",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3072])], [shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    src = tmp_path / "baked.onnx"
    onnx.save(model, str(src))
    with pytest.raises(ShapeError, match="does not take the new input shape"):
        fix_shapes(src, tmp_path / "out.onnx", shapes={"x": [1, 3, 64, 64]}, override=True, check=runs_once_on_cpu)
    assert main(["fix-shapes", str(src), "--input", "x=1,3,64,64", "--override-fixed", "-o",
                 str(tmp_path / "out.onnx")]) != 0
    assert not (tmp_path / "out.onnx").exists()


def test_a_scalar_is_fixed_and_an_input_without_shape_takes_the_one_given(tmp_path: Path) -> None:
    """A scalar input (a shape of no dims) is fixed, not "no shape"; an input whose file gives no shape at all takes
    the shape --input gives (it could never be fixed: "the input has 0 dims")."""
    import onnx
    from onnx import TensorProto, helper

    from onnpu.model.shapes import dynamic_dims

    nodes = [helper.make_node("Mul", ["x", "s"], ["y"])]
    shapeless = helper.make_tensor_value_info("x", TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "g", [shapeless, helper.make_tensor_value_info("s", TensorProto.FLOAT, [])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    assert set(dynamic_dims(model)) == {"x", "y"}  # s, a scalar, is fixed already
    onnx.save(model, str(tmp_path / "m.onnx"))
    result = fix_shapes(tmp_path / "m.onnx", tmp_path / "fixed.onnx", shapes={"x": [1, 4]})
    fixed = onnx.load(str(tmp_path / "fixed.onnx"))
    assert [d.dim_value for d in fixed.graph.input[0].type.tensor_type.shape.dim] == [1, 4]
    assert dynamic_dims(fixed) == {} and any("it had no shape" in c for c in result.changes)
