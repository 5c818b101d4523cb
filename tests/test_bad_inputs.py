"""The bad-input catalogue: every case is one `error:` line (plus a `hint:`), a non-zero exit, no
traceback, no input file modified and nothing written outside the cache (every file under the test's folder
hashed before and after). The README's table lists the same cases and messages."""

from __future__ import annotations

import hashlib
import io
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image

import hostile
import models
from loopback import Server
from onnpu import jsonio
from onnpu.cli import main
from onnpu.model.files import write_model


def _png_header(width: int, height: int) -> bytes:
    """A valid PNG signature + IHDR claiming a huge image (a decompression bomb), without pixel data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def _jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (400, 300), (120, 30, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


Setup = Callable[[Path], list[str]]


def _model(tmp: Path) -> Path:
    return models.save(models.float_conv(), tmp / "model.onnx")


def _classifier(tmp: Path) -> Path:
    return models.save(models.classifier(), tmp / "cls.onnx")


def _ext(tmp: Path) -> Path:
    return write_model(models.float_conv(hidden=64), tmp / "ext.onnx", external_data=True)


def case_truncated_onnx(tmp: Path) -> list[str]:
    good = _model(tmp).read_bytes()
    (tmp / "model.onnx").write_bytes(good[: len(good) // 2])
    return ["inspect", str(tmp / "model.onnx")]


def case_corrupt_onnx(tmp: Path) -> list[str]:
    (tmp / "model.onnx").write_bytes(bytes(range(256)) * 10)
    return ["run", str(tmp / "model.onnx")]


def case_empty_onnx(tmp: Path) -> list[str]:
    (tmp / "model.onnx").touch()
    return ["inspect", str(tmp / "model.onnx")]


def case_missing_external_data(tmp: Path) -> list[str]:
    _ext(tmp)
    (tmp / "ext.onnx.data").unlink()
    return ["run", str(tmp / "ext.onnx")]


def case_short_external_data(tmp: Path) -> list[str]:
    _ext(tmp)
    data = tmp / "ext.onnx.data"
    data.write_bytes(data.read_bytes()[:100])
    return ["inspect", str(tmp / "ext.onnx")]


def _outside_data(tmp: Path, location: str) -> Path:
    """A model in ``tmp/m/`` whose weights sit in ``tmp/elsewhere/secret.data``, named by ``location``."""
    model = hostile.with_external_data(tmp / "m", batch="N")
    (tmp / "elsewhere").mkdir()
    (tmp / "m" / "model.onnx.data").rename(tmp / "elsewhere" / "secret.data")
    return hostile.rewrite(model, location=location)


def case_absolute_location(tmp: Path) -> list[str]:
    return ["inspect", str(_outside_data(tmp, str(tmp / "elsewhere" / "secret.data")))]


def case_dotdot_location(tmp: Path) -> list[str]:
    return ["run", str(_outside_data(tmp, "../elsewhere/secret.data")), "--dim", "N=1"]


def case_link_outside(tmp: Path) -> list[str]:
    model = _outside_data(tmp, "weights.data")
    (tmp / "m" / "weights.data").symlink_to(tmp / "elsewhere" / "secret.data")
    return ["fix-shapes", str(model), "-o", str(tmp / "fixed.onnx"), "--dim", "N=1"]


def case_offset_past_the_end(tmp: Path) -> list[str]:
    model = hostile.rewrite(hostile.with_external_data(tmp), offset=1 << 40, tensor="w2")
    return ["quantize", str(model), "-o", str(tmp / "q.onnx"), "--calib", "random"]


def case_length_beyond_the_file(tmp: Path) -> list[str]:
    model = hostile.with_external_data(tmp)
    hostile.rewrite(model, tensor="w2", offset=(tmp / "model.onnx.data").stat().st_size - 8)
    return ["prepare", str(model), "-o", str(tmp / "p.onnx"), "--calib", "random"]


def case_location_is_a_folder(tmp: Path) -> list[str]:
    model = hostile.rewrite(hostile.with_external_data(tmp), location="weights")
    (tmp / "weights").mkdir()
    return ["placement", str(model)]


def case_wrong_input_name(tmp: Path) -> list[str]:
    np.save(tmp / "x.npy", np.zeros((1, 3, 16, 16), np.float32))
    return ["run", str(_model(tmp)), "--input", f"image={tmp / 'x.npy'}"]


def case_wrong_input_shape(tmp: Path) -> list[str]:
    np.save(tmp / "x.npy", np.zeros((1, 3, 8, 8), np.float32))
    return ["run", str(_model(tmp)), "--input", f"x={tmp / 'x.npy'}"]


def case_wrong_input_dtype(tmp: Path) -> list[str]:
    np.save(tmp / "x.npy", np.zeros((1, 3, 16, 16), np.int64))
    return ["run", str(_model(tmp)), "--input", f"x={tmp / 'x.npy'}"]


def case_nan_input(tmp: Path) -> list[str]:
    np.save(tmp / "x.npy", np.full((1, 3, 16, 16), np.nan, np.float32))
    return ["run", str(_model(tmp)), "--input", f"x={tmp / 'x.npy'}"]


def case_inf_input(tmp: Path) -> list[str]:
    np.save(tmp / "x.npy", np.full((1, 3, 16, 16), np.inf, np.float32))
    return ["run", str(_model(tmp)), "--input", f"x={tmp / 'x.npy'}"]


def case_not_an_image(tmp: Path) -> list[str]:
    (tmp / "photo.jpg").write_text("these are not pixels\n" * 50)
    return ["classify", str(tmp / "photo.jpg"), "--model", str(_classifier(tmp))]


def case_truncated_jpeg(tmp: Path) -> list[str]:
    (tmp / "photo.jpg").write_bytes(_jpeg_bytes()[:300])
    return ["classify", str(tmp / "photo.jpg"), "--model", str(_classifier(tmp))]


def case_empty_image(tmp: Path) -> list[str]:
    (tmp / "photo.png").touch()
    return ["classify", str(tmp / "photo.png"), "--model", str(_classifier(tmp))]


def case_decompression_bomb(tmp: Path) -> list[str]:
    (tmp / "bomb.png").write_bytes(_png_header(100_000, 100_000))
    return ["classify", str(tmp / "bomb.png"), "--model", str(_classifier(tmp))]


def case_path_is_a_folder(tmp: Path) -> list[str]:
    (tmp / "models").mkdir()
    return ["inspect", str(tmp / "models")]


def case_no_such_file(tmp: Path) -> list[str]:
    return ["inspect", str(tmp / "nowhere.onnx")]


def case_read_only_output_dir(tmp: Path) -> list[str]:
    if not Path("/sys/kernel").is_dir():
        pytest.skip("needs /sys/kernel (a folder even root cannot write)")
    return ["quantize", str(_model(tmp)), "-o", "/sys/kernel/model.qdq.onnx", "--calib", "random"]


def case_output_is_input(tmp: Path) -> list[str]:
    src = models.save(models.float_conv(batch="N"), tmp / "model.onnx")
    return ["fix-shapes", str(src), "-o", str(src), "--dim", "N=1"]


def case_unknown_target(tmp: Path) -> list[str]:
    return ["run", str(_model(tmp)), "--target", "tpu"]


def case_unknown_provider_option(tmp: Path) -> list[str]:
    return ["run", str(_model(tmp)), "--target", "npu", "--ep-option", "htp_perf=burst"]


def case_htp_backend_failing(tmp: Path) -> list[str]:
    return ["run", str(_model(tmp)), "--target", "npu", "--ep-option", "backend_path=/nonexistent/libQnnHtp.so"]


def _relu(tmp: Path, elem: int, shape: list[int], name: str = "relu.onnx") -> Path:
    from onnx import helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", elem, shape)],
                              [helper.make_tensor_value_info("y", elem, shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return models.save(model, tmp / name)


def case_huge_declared_input(tmp: Path) -> list[str]:
    """150 bytes declaring a 12 TB input: refused before any array is made (it once ran the machine out of memory)."""
    from onnx import TensorProto

    return ["run", str(_relu(tmp, TensorProto.FLOAT, [1, 3, 1_000_000, 1_000_000])), "--random", "--target", "cpu"]


def case_huge_image_input(tmp: Path) -> list[str]:
    """The same for a classifier: refused before the photo is resized to it."""
    from onnx import TensorProto

    Image.new("RGB", (40, 30)).save(tmp / "photo.png")
    return ["classify", str(tmp / "photo.png"), "--model",
            str(_relu(tmp, TensorProto.FLOAT, [1, 3, 1_000_000, 1_000_000])), "--target", "cpu"]


def case_text_input(tmp: Path) -> list[str]:
    from onnx import TensorProto

    return ["run", str(_relu(tmp, TensorProto.STRING, [1, 4])), "--random", "--target", "cpu"]


def case_huge_input_in_bench(tmp: Path) -> list[str]:
    """bench makes one random input for all its models: the model it cannot be made for is named."""
    from onnx import TensorProto

    return ["bench", str(_relu(tmp, TensorProto.FLOAT, [1, 3, 1_000_000, 1_000_000], "huge.onnx")), "--target", "cpu"]


def case_text_input_compared(tmp: Path, text_first: bool = False) -> list[str]:
    """compare of a text-input model with a float twin: the text model is named (data is made for the reference,
    then checked against the candidate)."""
    from onnx import TensorProto

    pair = [str(_relu(tmp, TensorProto.FLOAT, [1, 4], "float.onnx")),
            str(_relu(tmp, TensorProto.STRING, [1, 4], "text.onnx"))]
    return ["compare", *(pair[::-1] if text_first else pair), "--targets", "cpu"]


def case_bfloat16_input(tmp: Path) -> list[str]:
    from onnx import TensorProto

    return ["simplify", str(_relu(tmp, TensorProto.BFLOAT16, [1, 4])), "-o", str(tmp / "s.onnx")]


def case_no_pixels(tmp: Path) -> list[str]:
    Image.new("RGB", (40, 30)).save(tmp / "photo.png")
    from onnx import TensorProto

    return ["classify", str(tmp / "photo.png"), "--model", str(_relu(tmp, TensorProto.FLOAT, [1, 3, 0, 8])),
            "--target", "cpu"]


def case_no_opset(tmp: Path) -> list[str]:
    path = _relu(tmp, 1, [1, 4])
    model = onnx.load(path)
    del model.opset_import[:]
    path.write_bytes(model.SerializeToString())
    return ["fix-shapes", str(path), "-o", str(tmp / "fixed.onnx"), "--input", "x=1,4"]


def case_undefined_element_type(tmp: Path) -> list[str]:
    model = models.float_conv()
    model.graph.initializer[0].data_type = 999
    path = tmp / "model.onnx"
    path.write_bytes(model.SerializeToString())
    return ["inspect", str(path)]


def case_object_array_npz(tmp: Path) -> list[str]:
    np.savez(tmp / "x.npz", x=np.array([{"a": 1}], dtype=object))
    return ["run", str(_model(tmp)), "--input", f"x={tmp / 'x.npz'}", "--target", "cpu"]


def case_damaged_npz(tmp: Path) -> list[str]:
    (tmp / "x.npz").write_bytes(b"PK\x03\x04garbage")
    return ["run", str(_model(tmp)), "--input", f"x={tmp / 'x.npz'}", "--target", "cpu"]


def case_classic_ml_model(tmp: Path) -> list[str]:
    import shutil

    import onnxruntime

    shipped = Path(onnxruntime.__file__).parent / "datasets" / "logreg_iris.onnx"
    return ["prepare", str(shutil.copy(shipped, tmp / "logreg_iris.onnx")), "-o", str(tmp / "p.onnx"), "--calib",
            "random"]


def _written(tmp: Path, name: str, model: onnx.ModelProto, replace: tuple[bytes, bytes] | None = None) -> Path:
    data = model.SerializeToString()
    path = tmp / name
    path.write_bytes(data.replace(*replace) if replace else data)
    return path


def case_name_not_utf8(tmp: Path) -> list[str]:
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["zz_name_zz"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("zz_name_zz", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    return ["inspect", str(_written(tmp, "model.onnx", model, (b"zz_name_zz", b"\xff" * 10)))]


def case_cycle(tmp: Path) -> list[str]:
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Add", ["x", "b"], ["a"], name="first"), helper.make_node("Relu", ["a"], ["b"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("b", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    return ["simplify", str(_written(tmp, "model.onnx", model)), "-o", str(tmp / "s.onnx")]


def case_endless_loop(tmp: Path) -> list[str]:
    import graph_models

    model = graph_models.counting_loop(10**15, cond_in_body=False)
    return ["run", str(_written(tmp, "loop.onnx", model)), "--target", "cpu"]


def case_ir_too_new(tmp: Path) -> list[str]:
    model = models.float_conv()
    model.ir_version = 99
    return ["run", str(_written(tmp, "model.onnx", model)), "--target", "cpu", "--random"]


def case_weight_shorter_than_its_shape(tmp: Path) -> list[str]:
    model = models.float_conv()
    model.graph.initializer[0].raw_data = model.graph.initializer[0].raw_data[:10]
    return ["run", str(_written(tmp, "model.onnx", model)), "--target", "cpu", "--random"]


def case_weight_without_data(tmp: Path) -> list[str]:
    model = models.float_conv()
    weight = model.graph.initializer[1]
    weight.ClearField("raw_data")
    weight.dims[:] = [10**9, 10**9]
    return ["inspect", str(_written(tmp, "model.onnx", model))]


def case_weight_of_another_rank(tmp: Path) -> list[str]:
    model = models.float_conv()
    model.graph.initializer[0].CopyFrom(onnx.numpy_helper.from_array(np.zeros((8, 3, 3), np.float32), "w1"))
    return ["run", str(_written(tmp, "model.onnx", model)), "--target", "cpu", "--random"]


def case_simplify_no_opset(tmp: Path) -> list[str]:
    path = case_no_opset(tmp)[1]
    return ["simplify", path, "-o", str(tmp / "s.onnx")]


def case_opset_1(tmp: Path) -> list[str]:
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 1)], ir_version=3)
    return ["run", str(_written(tmp, "old.onnx", model)), "--target", "cpu", "--random"]


def case_optional_output(tmp: Path) -> list[str]:
    from onnx import TensorProto, helper

    optional = helper.make_optional_type_proto(helper.make_tensor_type_proto(TensorProto.FLOAT, [1, 4]))
    graph = helper.make_graph([helper.make_node("Optional", ["x"], ["o"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_value_info("o", optional)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)
    return ["simplify", str(_written(tmp, "opt.onnx", model)), "-o", str(tmp / "s.onnx")]


CASES: dict[str, tuple[Setup, str, int]] = {
    "truncated ONNX": (case_truncated_onnx, "not a valid ONNX model (truncated or corrupt", 1),
    "corrupt ONNX": (case_corrupt_onnx, "not a valid ONNX model", 1),
    "0-byte model": (case_empty_onnx, "the file is empty (0 bytes)", 1),
    "missing external data": (case_missing_external_data, "external-data file 'ext.onnx.data' is missing", 1),
    "short external data": (case_short_external_data, "external-data file ext.onnx.data is too short", 1),
    "absolute external-data location": (case_absolute_location, "names external data '/", 1),
    "external data outside the folder (..)": (case_dotdot_location, "'../elsewhere/secret.data', a path outside "
                                              "the model's folder", 1),
    "external data linked from outside": (case_link_outside, "'weights.data', a link to ", 1),
    "offset past the end of the data": (case_offset_past_the_end, "model.onnx.data is too short", 1),
    "length beyond the data file": (case_length_beyond_the_file, "model.onnx.data is too short", 1),
    "external-data location is a folder": (case_location_is_a_folder, "'weights', which is a folder, not a file", 1),
    "wrong input name": (case_wrong_input_name, "no input named 'image'", 1),
    "wrong input shape": (case_wrong_input_shape, "has shape [1, 3, 8, 8], the model expects [1, 3, 16, 16]", 1),
    "wrong input dtype": (case_wrong_input_dtype, "has dtype int64, the model expects float32", 1),
    "NaN input": (case_nan_input, "contains NaN or Inf values", 1),
    "Inf input": (case_inf_input, "contains NaN or Inf values", 1),
    "not an image": (case_not_an_image, "not an image file Pillow can read", 1),
    "truncated JPEG": (case_truncated_jpeg, "the image is truncated or corrupt", 1),
    "0-byte image": (case_empty_image, "the image file is empty (0 bytes)", 1),
    "decompression bomb": (case_decompression_bomb, "image too large to decode safely", 1),
    "path is a folder": (case_path_is_a_folder, "is a folder, not an ONNX file", 1),
    "no such file": (case_no_such_file, "no such file", 1),
    "read-only output folder": (case_read_only_output_dir, "cannot write in /sys/kernel", 1),
    "output path = input path": (case_output_is_input, "output would overwrite the input model", 1),
    "unknown target": (case_unknown_target, "unknown target 'tpu'", 1),
    "unknown provider option": (case_unknown_provider_option, "unknown QNN provider option 'htp_perf'", 1),
    "HTP backend failing": (case_htp_backend_failing, "the QNN HTP backend failed to load", 1),
    "huge declared input": (case_huge_declared_input, "relu.onnx: input 'x': its data [1, 3, 1000000, 1000000] "
                            "(float) needs about 12000.0 GB of memory", 1),
    "huge declared image input": (case_huge_image_input, "input 'x': one 1000000x1000000 image (resized, then as "
                                  "floats) needs about 24000.0 GB of memory", 1),
    "text input": (case_text_input, "relu.onnx: input 'x' is string: onnpu makes and measures data for", 1),
    "huge input in bench": (case_huge_input_in_bench, "huge.onnx: input 'x': its data [1, 3, 1000000, 1000000]", 1),
    "text input compared with a float twin": (case_text_input_compared, "text.onnx: input 'x' is string", 1),
    "text input as the reference": (lambda tmp: case_text_input_compared(tmp, text_first=True),
                                    "text.onnx: input 'x' is string", 1),
    "bfloat16 input": (case_bfloat16_input, "input 'x' is bfloat16: onnpu makes and measures data", 1),
    "image input of no pixels": (case_no_pixels, "input 'x' with shape [1, 3, 0, 8] holds images of no pixels", 1),
    "no opset imported": (case_no_opset, "ONNX's shape inference rejects the graph", 1),
    "undefined element type": (case_undefined_element_type, "has element type 999, which ONNX does not define", 1),
    "object arrays in an .npz": (case_object_array_npz, "not a readable .npy/.npz file (Object arrays", 1),
    "damaged .npz": (case_damaged_npz, "not a readable .npy/.npz file", 1),
    "classic ML model (scikit-learn)": (case_classic_ml_model, "a classic machine-learning model (LinearClassifier", 1),
    "a name that is not UTF-8": (case_name_not_utf8, "a tensor or node name is not valid UTF-8 text", 1),
    "a graph with a cycle": (case_cycle, "not a valid ONNX model: its graph has a cycle", 1),
    "a Loop that would not end": (case_endless_loop, "a constant trip count of 1,000,000,000,000,000 and a "
                                  "condition that never changes", 1),
    "a model newer than onnxruntime": (case_ir_too_new, "failed: Unsupported model IR version: 99", 1),
    "no opset imported, simplified": (case_simplify_no_opset, "relu.onnx: onnxruntime cannot load the model: Missing "
                                      "opset in the model", 1),
    "opset 1": (case_opset_1, "Could not find an implementation for Relu(1)", 1),
    "an optional output, simplified": (case_optional_output, "opt.onnx: 'o' is an optional(float): onnxslim", 1),
    "a weight shorter than its shape": (case_weight_shorter_than_its_shape, "model.onnx: weight 'w1' is damaged: it "
                                        "holds 10 bytes, its shape [8, 3, 3, 3] needs 864", 1),
    "a weight with a huge shape and no data": (case_weight_without_data, "weight 'w2' is damaged: it holds 0 values, "
                                               "its shape [1000000000, 1000000000] needs", 1),
    "a weight of another rank than its node's": (case_weight_of_another_rank, "Node (conv1) Op (Conv) "
                                                 "[ShapeInferenceError] Number of spatial dimensions in the weight "
                                                 "tensor (1)", 1),
}


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


def _one_error(code: int, expected_code: int, stderr: str, message: str) -> list[str]:
    err = [line for line in stderr.splitlines() if line.strip()]
    assert code == expected_code, err
    assert err[0].startswith("error: ") and message in err[0], err
    assert len(err) <= 2 and (len(err) == 1 or err[1].startswith("hint: ")), err
    return err


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    setup, message, code = CASES[name]
    argv = setup(tmp_path)
    before = _hashes(tmp_path)
    _one_error(main(argv), code, capsys.readouterr().err, message)
    assert _hashes(tmp_path) == before, "an input file was modified, or a file written outside the cache"
    assert not [p for p in tmp_path.rglob(".*.tmp")], "a temporary file was left behind"


@pytest.mark.parametrize("location", ["ABSOLUTE", "../../../../x.data"])
def test_hostile_model_over_http(location: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A model fetched by URL whose external data names an absolute path or climbs out with ``..``: refused
    before any request for the data, and nothing written anywhere (the data file is served at every URL
    the location could turn into, so a client that followed it would write it)."""
    cache = tmp_path / "a" / "b" / "cache"  # ../../../../x.data from the model's cache folder: tmp_path/a/b
    monkeypatch.setenv("ONNPU_CACHE_DIR", str(cache))
    (tmp_path / "victim").mkdir()
    if location == "ABSOLUTE":
        location = str(tmp_path / "victim" / "x.data")
    model = hostile.rewrite(hostile.with_external_data(tmp_path / "src"), location=location)
    data = (tmp_path / "src" / "model.onnx.data").read_bytes()
    served = {"m/model.onnx": model.read_bytes(), "x.data": data, location.lstrip("/"): data}
    before = {p: h for p, h in _hashes(tmp_path).items() if not p.startswith(str(cache))}
    with Server(served) as server:
        err = _one_error(main(["inspect", f"{server.url}/m/model.onnx"]), 1, capsys.readouterr().err,
                         f"tensor 'w1' names external data {location!r}")
        assert "/m/model.onnx: " in err[0] and "outside the model's folder" in err[0]
        assert server.requests == [("/m/model.onnx", None)], "a request was made for the hostile location"
    after = {p: h for p, h in _hashes(tmp_path).items() if not p.startswith(str(cache))}
    assert after == before, "a file was written outside the download cache"
    assert not (tmp_path / "victim" / "x.data").exists()


def test_qnn_missing(tmp_path: Path) -> None:
    """Without any QNN EP (the plugin made unimportable in a fresh interpreter): one line, the providers that
    exist, and the install hint."""
    model = _model(tmp_path)
    code = ("import sys; sys.modules['onnxruntime_qnn'] = None; from onnpu.cli import main; "
            f"sys.exit(main(['run', {str(model)!r}, '--target', 'npu']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    err = [line for line in done.stderr.splitlines() if line.strip()]
    assert err[0].startswith("error: the npu target needs the QNN execution provider")
    assert "available providers: " in err[0] and "CPUExecutionProvider" in err[0]
    assert err[1] == "hint: install the QNN execution provider: pip install 'onnpu[qnn]' (PyPI onnxruntime-qnn)"


def test_bench_measures_the_models_it_can_make_data_for(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bench of a model it can make no input for beside one it can: that model's row says why, naming it; the other
    is measured; exit 5 (partial)."""
    from onnx import TensorProto

    huge = _relu(tmp_path, TensorProto.FLOAT, [1, 3, 1_000_000, 1_000_000], "huge.onnx")
    small = _relu(tmp_path, TensorProto.FLOAT, [1, 4], "small.onnx")
    assert main(["bench", str(huge), str(small), "--target", "cpu", "--iterations", "2", "--json"]) == 5
    rows = {Path(r["model"]).name: r for r in jsonio.loads(capsys.readouterr().out)["runs"]}
    assert "huge.onnx: input 'x': its data [1, 3, 1000000, 1000000]" in rows["huge.onnx"]["error"]
    assert rows["small.onnx"]["error"] is None and rows["small.onnx"]["stats"]["samples"] == 2


@pytest.mark.parametrize("verb", [["inspect"], ["run", "--json"], ["placement"]])
def test_a_name_that_is_not_utf8_is_one_line(tmp_path: Path, verb: list[str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Protobuf hands a string field that is not valid UTF-8 back as bytes: refused where the file is read, in one
    line, not a traceback in whatever step first prints or encodes the name."""
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["zz_name_zz"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("zz_name_zz", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString().replace(b"zz_name_zz", b"\xff" * 10))
    code = main([verb[0], str(path), *verb[1:]])
    captured = capsys.readouterr()
    assert code == 1
    text = captured.out if "--json" in verb else captured.err
    assert "a tensor or node name is not valid UTF-8 text" in text and "Traceback" not in captured.err


def test_an_image_whose_file_name_is_not_utf8_is_a_row_like_any_other(tmp_path: Path) -> None:
    """A file name that is not UTF-8 (Python holds its byte as a surrogate escape) in a folder run with -o: the row is
    written, as the name's escape, the results stay strict JSON and valid UTF-8, and --resume knows the row."""
    import os

    import detect_models as dm

    folder = tmp_path / "photos"
    folder.mkdir()
    odd = folder / os.fsdecode(b"scene_\xff.png")
    dm.scene(dict(dm.SCENES)["000000000002.png"]).save(odd)
    model = dm.save(dm.square_detector(), tmp_path / "det.onnx")
    results = tmp_path / "r.jsonl"
    assert main(["detect", str(folder), "--model", str(model), "-o", str(results)]) == 0
    [row] = [jsonio.loads(line) for line in results.read_bytes().decode("utf-8").splitlines()]
    assert row["image"] == str(odd) and len(row["detections"]) == len(dict(dm.SCENES)["000000000002.png"])
    assert main(["detect", str(folder), "--model", str(model), "-o", str(results), "--resume"]) == 0
    assert len(results.read_text(encoding="utf-8").splitlines()) == 1  # already done: not written again
    table = tmp_path / "r.csv"
    assert main(["classify", str(folder), "--model", str(models.save(models.classifier(), tmp_path / "c.onnx")),
                 "-o", str(table)]) == 0
    assert "scene_\\udcff.png" in table.read_bytes().decode("utf-8")


def test_an_empty_class_output_is_one_line_and_an_empty_constant_quantizes(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """An output of shape [1, 0] (a constant with no values, added to the input's mean): classify says it is empty;
    quantize's exact-grid pass skips the empty constant (it raised on min() of nothing) and the run ends in the
    clear refusal of an output with no values."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("ReduceMean", ["x"], ["m"], keepdims=1, axes=[1, 2, 3]),
             helper.make_node("Reshape", ["m", "one"], ["m2"]),
             helper.make_node("Mul", ["m2", "zero"], ["z"]),
             helper.make_node("Add", ["empty", "z"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 0])],
                              [numpy_helper.from_array(np.zeros((1, 0), np.float32), "empty"),
                               numpy_helper.from_array(np.array([1, 1], np.int64), "one"),
                               numpy_helper.from_array(np.array(0, np.float32), "zero")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "empty.onnx"
    onnx.save(model, str(path))
    image = tmp_path / "a.png"
    Image.new("RGB", (8, 8)).save(image)
    assert main(["classify", str(image), "--model", str(path)]) == 1
    assert "output 'y' is empty (shape [1, 0]): no class scores to rank" in capsys.readouterr().err
    assert main(["quantize", str(path), "-o", str(tmp_path / "q.onnx"), "--calib", "random", "--no-npu"]) == 1
    err = capsys.readouterr().err
    assert "no values to compare" in err and "Traceback" not in err


def test_a_decodable_bomb_is_refused_alone_and_in_a_folder_alike(tmp_path: Path) -> None:
    """A real 1-bit PNG of 9500x9500 (90 Mpx, over Pillow's limit; a few kB on disk): refused as a single image and
    as a row of a folder run (whose threads once let Pillow's warning pass, and decoded it)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("1", (9500, 9500)).save(folder / "bomb.png")
    Image.new("RGB", (40, 30), (200, 10, 10)).save(folder / "ok.png")
    model = models.save(models.classifier(), tmp_path / "c.onnx")
    table = tmp_path / "r.csv"
    assert main(["classify", str(folder), "--model", str(model), "-o", str(table)]) == 5  # partial: one row failed
    rows = {line.split(",")[0]: line.split(",")[1] for line in table.read_text().splitlines()[1:]}
    assert rows[str(folder / "ok.png")] == "ok" and rows[str(folder / "bomb.png")] != "ok"
    assert "too large to decode safely" in table.read_text()
    assert main(["classify", str(folder / "bomb.png"), "--model", str(model)]) == 1


def test_onnxruntime_errors_drop_its_source_location_and_cxx_signature(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A model stamped IR version 99: the error says so in words, not "…/model.cc:256 onnxruntime::Model::Model(onnx::
    ModelProto&&, const onnxruntime::PathString&, …)", and the hint says what to do about a version."""
    model = models.float_conv()
    model.ir_version = 99
    path = tmp_path / "ir99.onnx"
    path.write_bytes(model.SerializeToString())
    assert main(["run", str(path), "--target", "cpu"]) == 1
    err = capsys.readouterr().err
    assert "cannot load the model: " in err and "failed: Unsupported model IR version: 99" in err
    assert ".cc:" not in err and "onnxruntime::" not in err and "released ONNX version" in err


def test_a_graph_with_a_cycle_is_refused_when_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two nodes each reading the other's output: not a valid graph. Refused when the file is read (inspect said it
    was fine; simplify failed on 'maximum recursion depth exceeded')."""
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Add", ["x", "b"], ["a"], name="first"), helper.make_node("Relu", ["a"], ["b"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("b", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "cycle.onnx"
    path.write_bytes(model.SerializeToString())
    for verb in (["inspect"], ["simplify", "-o", str(tmp_path / "s.onnx")]):
        assert main([verb[0], str(path), *verb[1:]]) == 1
        assert "its graph has a cycle" in capsys.readouterr().err
    assert not (tmp_path / "s.onnx").exists()
