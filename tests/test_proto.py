"""The fast model reader (onnpu.model.proto) agrees with onnx on every model the tests build, the built-in model
and the corpus of real models: the same ModelProto (the same class, too), the same arrays, the same dtypes; and
the one-image path never imports onnx (nor ml_dtypes, whose C extension was its slowest part)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from google.protobuf.message import DecodeError
from onnx import TensorProto, helper, numpy_helper

import corpus
import graph_models
import models
from onnpu.errors import ModelError
from onnpu.model import proto
from onnpu.model.files import parse_model_file


def _built(tmp_path: Path) -> list[Path]:
    builders = [models.float_conv, models.qdq_conv, models.unsupported_op, models.classifier, models.float_only_op,
                models.never_on_htp, models.two_dynamic_dims, models.layer_zoo, models.single_conv,
                models.qdq_add_int8_constant, graph_models.shape_head, graph_models.if_on_input,
                graph_models.embedding, graph_models.conv_lstm]
    paths = [models.save(build(), tmp_path / f"{build.__name__}.onnx") for build in builders]
    paths.append(models.save(models.classifier(uint8_io=True), tmp_path / "u8.onnx"))
    paths.append(models.aihub_style_classifier(tmp_path))
    return paths


def _agree(path: Path) -> int:
    """proto and onnx read ``path`` the same; returns how many tensors were compared."""
    ours, theirs = proto.load_model(path), onnx.load(str(path), load_external_data=False)
    assert type(ours) is onnx.ModelProto and ours == theirs
    compared = 0
    for tensor in theirs.graph.initializer:
        if tensor.data_location == TensorProto.EXTERNAL:
            continue
        expected = numpy_helper.to_array(tensor)
        got = proto.to_array(tensor)
        assert got.dtype == expected.dtype and got.shape == expected.shape, tensor.name
        np.testing.assert_array_equal(got, expected)
        compared += 1
    for value in (*theirs.graph.input, *theirs.graph.output):
        kind = value.type.tensor_type.elem_type
        if kind:
            assert proto.np_dtype(kind) == helper.tensor_dtype_to_np_dtype(kind)
    return compared


def test_reads_every_test_model_as_onnx_does(tmp_path: Path) -> None:
    assert sum(_agree(p) for p in _built(tmp_path)) > 30


@pytest.mark.zoo
def test_reads_the_built_in_model_as_onnx_does(zoo_model) -> None:  # type: ignore[no-untyped-def]
    assert _agree(zoo_model.float_model) > 100 and _agree(zoo_model.quantized_model) > 100


@pytest.mark.index
def test_reads_the_corpus_as_onnx_does() -> None:
    for record in corpus.records():
        _agree(corpus.fetch(record))


@pytest.mark.parametrize("kind", [TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.INT8,
                                  TensorProto.UINT8, TensorProto.INT16, TensorProto.UINT16, TensorProto.INT32,
                                  TensorProto.UINT32, TensorProto.INT64, TensorProto.UINT64, TensorProto.BOOL,
                                  TensorProto.BFLOAT16, TensorProto.FLOAT8E4M3FN, TensorProto.INT4])
@pytest.mark.parametrize("raw", [False, True])
def test_arrays_of_every_kind_raw_or_typed(kind: int, raw: bool) -> None:
    dtype = helper.tensor_dtype_to_np_dtype(kind)
    values = np.array([[0, 1, 2], [3, 1, 0]]).astype(np.float32)
    if np.issubdtype(np.dtype(dtype), np.signedinteger):
        values = -values
    array = values.astype(dtype)
    tensor = numpy_helper.from_array(array, "t")
    if not raw:  # the typed fields (float_data, int32_data, ...) instead of raw_data
        tensor = helper.make_tensor("t", kind, array.shape, array.astype(np.float32).ravel().tolist()
                                    if kind in (TensorProto.BFLOAT16, TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT16)
                                    else array.ravel().tolist())
    expected = numpy_helper.to_array(tensor)
    got = proto.to_array(tensor)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got.astype(np.float64), expected.astype(np.float64))
    assert proto.np_dtype(kind) == helper.tensor_dtype_to_np_dtype(kind)


def test_every_element_type_has_onnx_dtype() -> None:
    for name, kind in TensorProto.DataType.items():
        if name != "UNDEFINED":
            assert proto.np_dtype(kind) == helper.tensor_dtype_to_np_dtype(kind), name


def test_text_formats_and_damaged_files(tmp_path: Path) -> None:
    model = models.float_conv()
    text = tmp_path / "model.textproto"
    onnx.save(model, str(text))
    assert proto.load_model(text) == onnx.load(str(text))  # onnx's own reader for its text formats
    data = model.SerializeToString()
    with pytest.raises(DecodeError):
        proto.parse_model(data[: len(data) // 2])
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="not a valid ONNX model"):
        parse_model_file(tmp_path / "cut.onnx")


def test_the_one_image_path_does_not_import_onnx(tmp_path: Path) -> None:
    """Parsed in a process without onnx, a model is an onnx.ModelProto once onnx is imported after all."""
    path = models.save(models.qdq_conv(), tmp_path / "qdq.onnx")
    code = (f"import sys\nfrom onnpu.model.files import validate_model_file\nm = validate_model_file({str(path)!r})\n"
            "from onnpu.model.inspection import tensor_infos\nassert tensor_infos(m)[0][0].quant is not None\n"
            "assert 'onnx' not in sys.modules and 'ml_dtypes' not in sys.modules, 'onnx was imported'\n"
            "import onnx\nassert isinstance(m, onnx.ModelProto)\nonnx.checker.check_model(m)\nprint('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
