"""Class scores right for every classifier layout: the output's kind (probabilities, log-probabilities, logits)
is read from the graph once per model, the class axis from the shape; float and uint8 outputs, compared with
a numpy reference computed from the same preprocessed pixels."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnpu import InputDataError, classify, get_target
from onnpu.cli import main
from onnpu.model.inspection import tensor_infos
from onnpu.vision.folder import classify_folder
from onnpu.vision.preprocess import PreprocessConfig, preprocess_image
from onnpu.vision.scores import class_axis, output_kind, score_reader

CFG = PreprocessConfig(resize="crop", crop_ratio=1.0, scaling="imagenet")
CLASSES = 10
RNG = np.random.default_rng(11)
W = RNG.normal(0, 4.0, (CLASSES, 3)).astype(np.float32)  # spread logits: a peaked distribution
B = RNG.normal(0, 0.5, (CLASSES,)).astype(np.float32)
# uint8 output parameters per head: probabilities as AI Hub / QNN quantize them (1/256, 0)
U8 = {"logits": (0.1, 128), "softmax": (1 / 256, 0), "logsoftmax": (0.08, 255)}
LAYOUTS = {"NC": lambda n: [n, CLASSES], "NC11": lambda n: [n, CLASSES, 1, 1], "C": lambda n: [CLASSES],
           "N1C": lambda n: [n, 1, CLASSES]}


def head_model(layout: str, head: str, uint8: bool, batch: int | str = 1, extra_output: bool = False,
               head_last: bool = False) -> onnx.ModelProto:
    """x [batch, 3, 8, 8] → GlobalAveragePool → Flatten → Gemm → (Softmax | LogSoftmax) → layout → (Q uint8).
    ``head_last``: the reshape to the layout comes before the Softmax (over the last axis)."""
    shape = LAYOUTS[layout](batch if isinstance(batch, int) else -1)
    out_shape = LAYOUTS[layout](batch)
    inits = [numpy_helper.from_array(W, "w"), numpy_helper.from_array(B, "b"),
             numpy_helper.from_array(np.array([d if isinstance(d, int) else -1 for d in shape], np.int64), "shape")]
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["pooled"], name="pool"),
             helper.make_node("Flatten", ["pooled"], ["feat"], name="flatten"),
             helper.make_node("Gemm", ["feat", "w", "b"], ["logits"], transB=1, name="fc")]
    op = {"softmax": "Softmax", "logsoftmax": "LogSoftmax"}.get(head)
    last = "logits"
    if op and not head_last:
        nodes.append(helper.make_node(op, [last], ["scored"], axis=-1, name="head"))
        last = "scored"
    nodes.append(helper.make_node("Reshape", [last, "shape"], ["shaped"], name="layout"))
    last = "shaped"
    if op and head_last:
        nodes.append(helper.make_node(op, [last], ["scored_late"], axis=-1, name="head"))
        last = "scored_late"
    elem = TensorProto.FLOAT
    nodes.append(helper.make_node("Identity", [last], ["scores" if not uint8 else "kept"], name="identity"))
    if uint8:
        scale, zero = U8[head]
        inits += [helper.make_tensor("s", TensorProto.FLOAT, [], [scale]),
                  helper.make_tensor("z", TensorProto.UINT8, [], [zero])]
        nodes.append(helper.make_node("QuantizeLinear", ["kept", "s", "z"], ["scores"], name="output_q"))
        elem = TensorProto.UINT8
    outputs = [helper.make_tensor_value_info("scores", elem, out_shape)]
    if extra_output:  # a feature map (not a class vector) and the pooled features (3 "classes": ambiguous)
        outputs[:0] = [helper.make_tensor_value_info("x_copy", TensorProto.FLOAT, [batch, 3, 8, 8]),
                       helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [batch, 3, 1, 1])]
        nodes.append(helper.make_node("Identity", ["x"], ["x_copy"], name="copy"))
    graph = helper.make_graph(nodes, "head", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                            [batch, 3, 8, 8])], outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    onnx.checker.check_model(model)
    return model


def reference(x: np.ndarray, head: str, uint8: bool) -> np.ndarray:
    """What the scores must be, in numpy: the head computed in float64, quantized like the model's output,
    then dequantized; softmax for logits and log-probabilities, none for probabilities."""
    logits = x.astype(np.float64).mean(axis=(2, 3)) @ W.T.astype(np.float64) + B
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs = e / e.sum(axis=-1, keepdims=True)
    values = {"logits": logits, "softmax": probs, "logsoftmax": np.log(probs)}[head]
    if uint8:
        scale, zero = U8[head]
        values = (np.clip(np.round(values / scale) + zero, 0, 255) - zero) * scale
    if head != "softmax":
        e = np.exp(values - values.max(axis=-1, keepdims=True))
        values = e / e.sum(axis=-1, keepdims=True)
    return values[0]


@pytest.mark.parametrize("uint8", [False, True], ids=["float", "uint8"])
@pytest.mark.parametrize("head", ["logits", "softmax", "logsoftmax"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_every_layout_and_head_matches_numpy(layout: str, head: str, uint8: bool, tmp_path: Path,
                                             photos: dict[str, Path]) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(head_model(layout, head, uint8), path)
    image = photos["chelsea"]
    result = classify([image], path, get_target("cpu"), preprocess=CFG, top=CLASSES)
    x = preprocess_image(image, tensor_infos(onnx.load(path))[0][0], CFG)
    expected = reference(x, head, uint8)
    got = np.zeros(CLASSES)
    for p in result.images[0].top:
        got[p.index] = p.score
    assert len(result.images[0].top) == CLASSES  # the class axis was found: 10 classes, not one
    np.testing.assert_allclose(got, expected, atol=1e-5 if not uint8 else 2e-3)
    assert result.softmax_applied == (head != "softmax")
    assert result.scores == {"logits": "logits", "softmax": "probabilities", "logsoftmax": "log-probabilities"}[head]


def test_uint8_softmax_output_is_not_softmaxed_twice(tmp_path: Path, photos: dict[str, Path]) -> None:
    """The reported bug: probabilities in uint8 (scale 1/256) read as logits flattened the top score."""
    path = tmp_path / "m.onnx"
    onnx.save(head_model("NC", "softmax", True), path)
    result = classify([photos["coffee"]], path, get_target("cpu"), preprocess=CFG)
    x = preprocess_image(photos["coffee"], tensor_infos(onnx.load(path))[0][0], CFG)
    top = result.images[0].top[0]
    assert top.score == pytest.approx(reference(x, "softmax", True).max(), abs=1e-6)
    assert top.score > 0.3  # softmax of values in [0, 1] over 10 classes could not exceed ~0.24
    assert any("holds probabilities (from head)" in n for n in result.notes)


def test_softmax_after_the_reshape_and_overrides(tmp_path: Path, photos: dict[str, Path]) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(head_model("N1C", "softmax", True, head_last=True), path)
    proto = onnx.load(path)
    assert output_kind(proto.graph, "scores") == ("probabilities", "head")
    forced = classify([photos["coffee"]], path, get_target("cpu"), preprocess=CFG, softmax_mode=True)
    plain = classify([photos["coffee"]], path, get_target("cpu"), preprocess=CFG, softmax_mode=None)
    assert forced.softmax_applied and not plain.softmax_applied
    assert forced.images[0].top[0].score < plain.images[0].top[0].score


def test_class_axis_rules() -> None:
    assert class_axis([1, 1000]) == 1 and class_axis(["N", 1000, 1, 1]) == 1
    assert class_axis([1000]) == 0 and class_axis([1, 1, 1000]) == 2
    assert class_axis([1, 3, 8, 8]) is None and class_axis([1, 1]) is None and class_axis([]) is None


def test_the_class_output_among_several_and_by_name(tmp_path: Path, photos: dict[str, Path]) -> None:
    path = tmp_path / "two.onnx"
    onnx.save(head_model("NC11", "softmax", False, extra_output=True), path)
    proto = onnx.load(path)
    _, outputs = tensor_infos(proto)
    assert [o.name for o in outputs] == ["x_copy", "pooled", "scores"]
    assert score_reader(proto, outputs).output.name == "scores"  # the one a Softmax produces
    result = classify([photos["coffee"]], path, get_target("cpu"), preprocess=CFG)
    assert result.output == "scores" and len(result.images[0].top) == 5
    assert classify([photos["coffee"]], path, get_target("cpu"), preprocess=CFG, output="pooled").output == "pooled"
    with pytest.raises(InputDataError, match=r"output 'x_copy' has shape \[1, 3, 8, 8\], not a class vector"):
        classify([photos["coffee"]], path, get_target("cpu"), preprocess=CFG, output="x_copy")
    onnx.save(head_model("NC11", "logits", False, extra_output=True), path)  # two logit vectors: ask
    with pytest.raises(InputDataError, match="several outputs could be the class scores"):
        classify([photos["coffee"]], path, get_target("cpu"), preprocess=CFG)
    with pytest.raises(InputDataError, match="no output named 'nope'"):
        classify([photos["coffee"]], path, get_target("cpu"), preprocess=CFG, output="nope")


def test_folder_uses_the_same_decision_with_dynamic_and_fixed_batches(tmp_path: Path,
                                                                      photos: dict[str, Path]) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for k, (name, src) in enumerate(sorted(photos.items())):
        for copy in range(2 if k < 1 else 1):  # 5 images: a fixed batch of 4 leaves a partial last batch
            (folder / f"{name}{copy}{src.suffix}").write_bytes(src.read_bytes())
    images = sorted(folder.iterdir())
    assert len(images) == 5
    one = tmp_path / "one.onnx"
    onnx.save(head_model("NC11", "softmax", True), one)
    expected = {str(p): r.top for p, r in zip(images, classify(images, one, get_target("cpu"),
                                                                preprocess=CFG).images, strict=True)}
    for batch, label in (("N", "dynamic"), (4, "fixed")):
        path = tmp_path / f"{label}.onnx"
        onnx.save(head_model("NC11", "softmax", True, batch=batch), path)
        got: dict[str, list[tuple[int, str, float]]] = {}
        summary = classify_folder([folder], path, get_target("cpu"), preprocess=CFG, batch=4 if batch == "N" else 1,
                                  draft=False, on_result=lambda image, top, error, g=got: g.__setitem__(image, top))
        assert summary.classified == 5 and summary.batch == 4 and "holds probabilities" in summary.scores
        for image, top in got.items():
            assert [t[0] for t in top] == [p.index for p in expected[image]]
            np.testing.assert_allclose([t[2] for t in top], [p.score for p in expected[image]], atol=1e-6)
    # single-image classify on the fixed-batch model fills the batch too
    fixed = classify(images[:1], tmp_path / "fixed.onnx", get_target("cpu"), preprocess=CFG)
    assert [p.index for p in fixed.images[0].top] == [p.index for p in expected[str(images[0])]]


def test_cli_output_name_and_fixed_batch_folder_csv(tmp_path: Path, photos: dict[str, Path],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "fixed.onnx"
    onnx.save(head_model("NC", "logits", True, batch=3, extra_output=True), path)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name, src in photos.items():
        (folder / f"{name}{src.suffix}").write_bytes(src.read_bytes())
    out = tmp_path / "r.csv"
    code = main(["classify", str(folder), "--model", str(path), "--output-name", "scores", "-o", str(out),
                 "--scaling", "imagenet", "--crop-ratio", "1.0"])
    assert code == 0, capsys.readouterr().err
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert len(rows) == len(photos) and all(r["status"] == "ok" for r in rows)
    assert main(["classify", str(folder / "coffee.png"), "--model", str(path), "--output-name", "x_copy"]) == 1
    assert "not a class vector" in capsys.readouterr().err
