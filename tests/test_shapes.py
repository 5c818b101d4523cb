from __future__ import annotations

from pathlib import Path

import pytest

import models
from conftest import sha256
from onnpu import ShapeError, inspect_model
from onnpu.cli import main
from onnpu.model.files import write_model
from onnpu.model.shapes import fix_shapes


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
