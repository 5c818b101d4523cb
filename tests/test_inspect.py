from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

import models
from onnpu import inspect_model, jsonio
from onnpu.cli import main
from onnpu.model.files import write_model


def test_qdq_model_io_parameters_are_the_ones_in_the_model(tmp_path: Path) -> None:
    info = inspect_model(models.save(models.qdq_conv(), tmp_path / "qdq.onnx"))
    x, y = info.inputs[0], info.outputs[0]
    assert x.quant is not None and y.quant is not None
    assert x.quant.scale == pytest.approx((1 / 255,)) and x.quant.zero_point == (0,) and x.quant.dtype == "uint8"
    assert "QuantizeLinear 'x_quant'" in x.quant.source
    assert y.quant.scale == pytest.approx((0.02,)) and y.quant.zero_point == (0,)
    assert info.quantization_style == "QDQ"
    assert info.op_histogram["DequantizeLinear"] == 4


def test_16_bit_qdq_of_the_microsoft_domain_is_qdq(tmp_path: Path) -> None:
    """ONNX Runtime writes 16-bit QuantizeLinear/DequantizeLinear in the com.microsoft domain before opset 21
    (prepare's W8A16 models): still a QDQ model, not a float one."""
    model = models.qdq_conv()
    for node in model.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            node.domain = "com.microsoft"
    model.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
    info = inspect_model(models.save(model, tmp_path / "ms.onnx"))
    assert info.op_histogram["com.microsoft.DequantizeLinear"] == 4
    assert info.quantization_style == "QDQ"


def test_uint8_io_parameters(tmp_path: Path) -> None:
    info = inspect_model(models.save(models.classifier(uint8_io=True), tmp_path / "u8.onnx"))
    x, y = info.inputs[0], info.outputs[0]
    assert (x.elem_type, y.elem_type) == ("uint8", "uint8")
    assert x.quant is not None and x.quant.scale == pytest.approx((0.025,)) and x.quant.zero_point == (100,)
    assert y.quant is not None and y.quant.scale == pytest.approx((0.05,)) and y.quant.zero_point == (128,)


def test_float_model_dynamic_dims_and_sizes(tmp_path: Path) -> None:
    info = inspect_model(models.save(models.float_conv(batch="N"), tmp_path / "dyn.onnx"))
    assert info.quantization_style == "float"
    assert info.inputs[0].shape == ["N", 3, 16, 16]
    assert info.dynamic_inputs == {"x": ["N"]}
    assert info.parameter_count == 8 * 3 * 3 * 3 + 4 * 8
    assert info.parameter_bytes == info.parameter_count * 4
    assert info.opsets == {"ai.onnx": 21}
    assert info.inputs[0].quant is None


def test_external_data_is_listed(tmp_path: Path) -> None:
    path = write_model(models.float_conv(), tmp_path / "ext.onnx", external_data=True, size_threshold=0)
    assert (tmp_path / "ext.onnx.data").is_file()
    info = inspect_model(path)
    assert info.external_data == ["ext.onnx.data"]
    assert info.parameter_count == 8 * 3 * 3 * 3 + 4 * 8


def test_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = models.save(models.qdq_conv(), tmp_path / "qdq.onnx")
    assert main(["inspect", str(path), "--json"]) == 0
    data = jsonio.loads(capsys.readouterr().out)
    assert data["inputs"][0]["quantization"]["scale"] == pytest.approx(1 / 255)
    assert data["outputs"][0]["quantization"]["zero_point"] == 0
    assert data["quantization_style"] == "QDQ"


def test_cli_table_names_dynamic_dims(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = models.save(models.float_conv(batch="batch"), tmp_path / "dyn.onnx")
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "dynamic: batch" in out and "--dim" in out


def test_a_dim_written_as_its_formula_shows_as_a_question_mark(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """torch's dynamic export names output dims by the formula that computes them (hundreds of characters for a
    detector's box count): the table shows ``?``, the JSON keeps the name."""
    model = models.float_conv(batch="batch")
    formula = "(floor(floor(height/2 - 1/2)/2) + 1)*(floor(floor(width/2 - 1/2)/2) + 1)"
    model.graph.output[0].type.tensor_type.shape.dim[2].dim_param = formula
    path = models.save(model, tmp_path / "formula.onnx")
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "floor" not in out and "[batch, 4, ?, 16]" in out
    assert main(["inspect", str(path), "--json"]) == 0
    assert jsonio.loads(capsys.readouterr().out)["outputs"][0]["shape"][2] == formula


def test_per_axis_quantized_input(tmp_path: Path) -> None:
    model = models.qdq_conv()
    for init in model.graph.initializer:
        if init.name == "s_in":
            init.CopyFrom(onnx.numpy_helper.from_array(np.array([0.01, 0.02, 0.03], np.float32), "s_in"))
        if init.name == "z_in":
            init.CopyFrom(onnx.numpy_helper.from_array(np.array([0, 10, 20], np.uint8), "z_in"))
    for node in model.graph.node:
        if node.name in ("x_quant", "x_dequant"):
            node.attribute.append(onnx.helper.make_attribute("axis", 1))
    info = inspect_model(models.save(model, tmp_path / "axis.onnx"))
    q = info.inputs[0].quant
    assert q is not None and q.axis == 1 and q.zero_point == (0, 10, 20)
