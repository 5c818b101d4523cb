"""Models whose inputs or outputs are not plain tensors: a scikit-learn classifier's ZipMap (a sequence of maps,
class → probability), a sequence of tensors, text outputs. `run` and `compare` read them as arrays and say how;
`prepare` / `quantize` refuse a classic machine-learning model (ai.onnx.ml) in one line; a sequence input is refused
naming it; `inspect` names the container."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper

import models
from onnpu import jsonio
from onnpu.cli import main
from onnpu.metrics import compare_outputs


@pytest.fixture
def logreg(tmp_path: Path) -> Path:
    """The logistic regression ONNX Runtime ships (skl2onnx-style: LinearClassifier → Normalizer → ZipMap)."""
    shipped = Path(os.path.dirname(onnxruntime.__file__)) / "datasets" / "logreg_iris.onnx"
    return Path(shutil.copy(shipped, tmp_path / "logreg_iris.onnx"))


def _sequence_model(tmp_path: Path) -> Path:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    seq = helper.make_tensor_sequence_value_info("parts", TensorProto.FLOAT, None)
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Neg", ["x"], ["b"]),
             helper.make_node("SequenceConstruct", ["a", "b"], ["parts"])]
    model = helper.make_model(helper.make_graph(nodes, "seq", [x], [seq]), opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = tmp_path / "seq.onnx"
    onnx.save(model, path)
    return path


def test_a_zipmap_output_runs_and_compares_as_one_column_per_class(logreg: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(logreg), "--target", "cpu", "--json"]) == 0
    report = jsonio.loads(capsys.readouterr().out)
    probabilities = report["outputs"]["probabilities"]
    assert probabilities["shape"] == [3, 3] and 0 < probabilities["min"] <= probabilities["max"] < 1
    assert abs(probabilities["mean"] - 1 / 3) < 1e-6  # each row sums to 1 over 3 classes
    assert any("sequence of maps (keys 0, 1, 2)" in n for n in report["notes"])
    assert main(["run", str(logreg), "--target", "cpu"]) == 0  # the table: label (int64) and the probabilities
    assert "probabilities" in capsys.readouterr().out
    assert main(["compare", str(logreg), str(logreg), "--targets", "cpu", "--json"]) == 0
    rows = {o["name"]: o for o in jsonio.loads(capsys.readouterr().out)["outputs"]}
    assert rows["probabilities"]["max_abs_error"] == 0 and rows["probabilities"]["cosine"] == pytest.approx(1.0)
    assert main(["inspect", str(logreg), "--json"]) == 0
    outputs = {o["name"]: o for o in jsonio.loads(capsys.readouterr().out)["outputs"]}
    assert outputs["probabilities"]["container"] == "seq(map(int64, float))"


@pytest.mark.parametrize("verb", ["prepare", "quantize"])
def test_a_classic_ml_model_is_refused_by_prepare_in_one_line(verb: str, logreg: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "q.onnx"
    argv = [verb, str(logreg), "-o", str(out), "--calib", "random"] + (["--no-verify"] if verb == "prepare" else [])
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert "a classic machine-learning model (LinearClassifier" in err and "ai.onnx.ml" in err
    assert "Traceback" not in err and not out.exists()


def test_a_sequence_of_tensors_is_stacked_and_a_sequence_input_refused(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    model = _sequence_model(tmp_path)
    assert main(["run", str(model), "--target", "cpu", "--json"]) == 0
    report = jsonio.loads(capsys.readouterr().out)
    assert report["outputs"]["parts"]["shape"] == [2, 2, 3]
    assert report["outputs"]["parts"]["min"] <= 0 <= report["outputs"]["parts"]["max"]
    assert main(["prepare", str(model), "-o", str(tmp_path / "q.onnx"), "--calib", "random", "--no-verify"]) != 0
    err = capsys.readouterr().err
    assert "output 'parts' is not a tensor but seq(float)" in err and "Traceback" not in err
    # the same model turned round: a sequence input
    proto = onnx.load(model)
    inverse = helper.make_model(helper.make_graph(
        [helper.make_node("SequenceAt", ["parts", "zero"], ["first"])], "seq_in",
        [helper.make_tensor_sequence_value_info("parts", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("first", TensorProto.FLOAT, None)],
        [helper.make_tensor("zero", TensorProto.INT64, [], [0])]), opset_imports=proto.opset_import)
    inverse.ir_version = 8
    onnx.save(inverse, tmp_path / "seq_in.onnx")
    assert main(["run", str(tmp_path / "seq_in.onnx"), "--target", "cpu"]) != 0
    err = capsys.readouterr().err
    assert "input 'parts' is not a tensor but seq(float)" in err and "Traceback" not in err


def test_one_value_per_sample_has_no_cosine_and_zero_rows_agree() -> None:
    """A cosine of one number is its sign (always 1 for a probability): not shown. Two all-zero outputs are the
    same output (cosine 1), not orthogonal ones."""
    one = compare_outputs("p", [np.array([0.2]), np.array([0.7])], [np.array([0.25]), np.array([0.6])])
    assert one.cosine is None and one.cosine_text() == "-" and jsonio.loads(jsonio.dumps(one))["cosine"] is None
    zeros = compare_outputs("label", [np.zeros(3), np.ones(3)], [np.zeros(3), np.ones(3)])
    assert zeros.cosine == pytest.approx(1.0)
    apart = compare_outputs("label", [np.zeros(3)], [np.ones(3)])
    assert apart.cosine == 0.0


def test_a_failing_verb_with_json_still_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A program reading stdout gets JSON whatever happened: the error, its hint and the exit code (the error line
    still goes to stderr for people), the model file named."""
    model = _sequence_model(tmp_path)
    code = main(["prepare", str(model), "-o", str(tmp_path / "q.onnx"), "--calib", "random", "--json"])
    captured = capsys.readouterr()
    failure = jsonio.loads(captured.out)
    assert code == failure["exit_code"] != 0 and str(model) in failure["error"] and failure["hint"]
    assert captured.out.count("\n") == 1  # one line: a JSONL stream of results (detect DIR --json) takes it too
    assert captured.err.startswith("error: ")


@pytest.mark.parametrize("argv", [
    ["classify", "x.jpg", "--top", "0", "--json"],  # a value argparse refuses
    ["run", "--json", "--no-such-flag"],  # a flag no verb has
    ["quantize", "m.onnx", "-o", "q.onnx", "--json"],  # a required flag missing
    ["quantize", "{model}", "-o", "{out}", "--calib", "random", "--rounding", "nearest", "--no-bias-correction",
     "--json"],  # a flag that does nothing in the mode asked, refused once the verb runs
    ["quantize", "{model}", "-o", "{out}", "--calib", "random", "--rounding", "nearest", "--no-bias-correction",
     "--jso"],  # the same with --json abbreviated, as argparse allows
])
def test_a_usage_error_with_json_prints_json_too(argv: list[str], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A command line argparse refuses (exit 2) with ``--json`` on it: usage and the error on stderr, as argparse
    prints them, and the same one JSON line on stdout every other error prints. Without ``--json``: nothing on
    stdout."""
    model = models.save(models.classifier(), tmp_path / "m.onnx")
    words = [w.format(model=model, out=tmp_path / "q.onnx") for w in argv]
    for json_asked in (True, False):
        with pytest.raises(SystemExit) as exited:
            main(words if json_asked else [w for w in words if w not in ("--json", "--jso")])
        captured = capsys.readouterr()
        assert exited.value.code == 2 and "usage: onnpu" in captured.err and "error: " in captured.err
        if not json_asked:
            assert captured.out == ""
            continue
        failure = jsonio.loads(captured.out)
        assert captured.out.count("\n") == 1 and failure["exit_code"] == 2
        assert failure["error"].startswith("onnpu") and failure["error"].split(": ", 1)[1] in captured.err
        assert "--help" in failure["hint"]


def test_a_network_ending_in_one_ml_operator_is_still_quantized(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """skl2onnx's MLPClassifier (zipmap off): MatMul layers, then ArgMax and an ai.onnx.ml ArrayFeatureExtractor
    picking the label: a network with one classic operator at its end, quantized (not refused as classic ML)."""
    rng = np.random.default_rng(0)
    inits = [onnx.numpy_helper.from_array(rng.normal(0, 0.5, (4, 16)).astype(np.float32), "w1"),
             onnx.numpy_helper.from_array(rng.normal(0, 0.5, (16, 3)).astype(np.float32), "w2"),
             onnx.numpy_helper.from_array(np.array([10, 20, 30], np.int64), "classes")]
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "w2"], ["logits"]), helper.make_node("Softmax", ["logits"], ["probs"]),
             helper.make_node("ArgMax", ["probs"], ["best"], axis=1),
             helper.make_node("ArrayFeatureExtractor", ["classes", "best"], ["label"], domain="ai.onnx.ml")]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 3]),
                               helper.make_tensor_value_info("label", TensorProto.INT64, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 1)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "mlp.onnx")
    assert main(["quantize", str(tmp_path / "mlp.onnx"), "-o", str(tmp_path / "q.onnx"), "--calib", "random",
                 "--no-npu"]) == 0, capsys.readouterr().err
    assert (tmp_path / "q.onnx").exists()


def test_run_saves_outputs_under_any_name(tmp_path: Path) -> None:
    """Output names become .npz members: "file" and "allow_pickle" (numpy.savez's own arguments) are saved like any
    other, and a name that is a path is saved with its separators as _."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    names = ["file", "allow_pickle", "../evil"]
    nodes = [helper.make_node("Identity", ["x"], [n]) for n in names]
    graph = helper.make_graph(nodes, "names", [x], [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2])
                                                    for n in names])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "names.onnx")
    assert main(["run", str(tmp_path / "names.onnx"), "--target", "cpu", "-o", str(tmp_path / "out.npz")]) == 0
    with np.load(tmp_path / "out.npz") as saved:
        assert sorted(saved.files) == ["_evil", "allow_pickle", "file"]
        assert saved["file"].shape == (2,)


def _nan_classifier(tmp_path: Path) -> Path:
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["pooled"]), helper.make_node("Flatten", ["pooled"], ["f"]),
             helper.make_node("Sub", ["f", "two"], ["below"]), helper.make_node("Sqrt", ["below"], ["logits"])]
    graph = helper.make_graph(nodes, "nan", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3])],
                              [onnx.numpy_helper.from_array(np.array(2.0, np.float32), "two")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "nan.onnx")
    return tmp_path / "nan.onnx"


def test_nan_scores_are_never_ranked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A classifier whose scores are NaN (√ of a negative number): one image is an error that says so; in a folder
    each such image is a row with that error and the warning names the model, not unreadable images."""
    from PIL import Image

    model = _nan_classifier(tmp_path)
    photos = tmp_path / "photos"
    photos.mkdir()
    for k in range(2):
        Image.new("RGB", (20, 20), (40 * k, 90, 200)).save(photos / f"p{k}.png")
    assert main(["classify", str(photos / "p0.png"), "--model", str(model), "--target", "cpu"]) != 0
    err = capsys.readouterr().err
    assert "scores hold NaN/Inf: nothing to rank" in err and "Traceback" not in err
    main(["classify", str(photos), "--model", str(model), "--target", "cpu", "-o", str(tmp_path / "r.jsonl")])
    err = capsys.readouterr().err
    assert "the model's scores held NaN/Inf on 2 images" in err and "could not be read" not in err
    rows = [jsonio.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all("NaN" in r["error"] for r in rows)


def _data_sized_model(tmp_path: Path, *, with_fixed: bool) -> Path:
    """y = Relu(x) (fixed size) beside NonZero outputs: ``above`` (how many of x's values exceed 0.5 differs from
    input to input) and ``never`` (x > 1e9: empty on every input)."""
    nodes = [helper.make_node("Greater", ["x", "half"], ["g"]), helper.make_node("NonZero", ["g"], ["above"]),
             helper.make_node("Greater", ["x", "huge"], ["h"]), helper.make_node("NonZero", ["h"], ["never"])]
    outputs = [helper.make_tensor_value_info("above", TensorProto.INT64, [2, "k"]),
               helper.make_tensor_value_info("never", TensorProto.INT64, [2, "m"])]
    if with_fixed:
        nodes.append(helper.make_node("Relu", ["x"], ["y"]))
        outputs.insert(0, helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64]))
    graph = helper.make_graph(nodes, "sized", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
                              outputs, [onnx.numpy_helper.from_array(np.array(0.5, np.float32), "half"),
                                        onnx.numpy_helper.from_array(np.array(1e9, np.float32), "huge")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return models.save(model, tmp_path / f"sized_{with_fixed}.onnx")


def test_compare_skips_outputs_the_data_sizes_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Outputs whose size the data decides (NonZero, an NMS) cannot be compared value by value: the fixed ones are
    compared, those are listed as not compared with why (empty on every input; sizes that differ); a model of
    nothing else is one error naming them, with the detector's way to compare."""
    model = _data_sized_model(tmp_path, with_fixed=True)
    assert main(["compare", str(model), str(model), "--targets", "cpu", "--count", "6", "--json"]) == 0
    result = jsonio.loads(capsys.readouterr().out)
    assert [o["name"] for o in result["outputs"]] == ["y"] and result["outputs"][0]["max_abs_error"] == 0
    assert result["skipped_outputs"]["never"].startswith("empty on these inputs (shape [2, 0])")
    assert "depends on the data" in result["skipped_outputs"]["above"]
    assert main(["compare", str(model), str(model), "--targets", "cpu", "--count", "6"]) == 0
    assert "note: output never not compared: empty on these inputs" in capsys.readouterr().out
    only = _data_sized_model(tmp_path, with_fixed=False)
    assert main(["compare", str(only), str(only), "--targets", "cpu", "--count", "6", "--json"]) == 1
    captured = capsys.readouterr()
    failure = jsonio.loads(captured.out)
    assert "no output to compare value by value" in failure["error"] and "never" in failure["error"]
    assert "detect" in failure["hint"] and captured.err.startswith("error: ")


def test_compare_still_refuses_two_models_whose_fixed_size_outputs_differ(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Outputs declared with open dims but sized by the model, not the data (no NonZero, NMS …): two different models
    whose y differs in size are an error, not an output skipped as data-sized."""
    def model(concat: bool) -> Path:
        nodes = [helper.make_node("Relu", ["x"], ["z"]),
                 helper.make_node("Concat", ["x", "x"], ["y"], axis=1) if concat else
                 helper.make_node("Sigmoid", ["x"], ["y"])]
        graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                                  [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 4]),
                                   helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", "k"])])
        return models.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
                           tmp_path / f"{'cand' if concat else 'ref'}.onnx")

    assert main(["compare", str(model(False)), str(model(True)), "--targets", "cpu", "--count", "3",
                 "--dim", "N=1"]) == 1
    assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'ref.onnx'}: output y: shapes [1, 4] and [1, 8] "
                                              "differ")  # the reference named, as every error names a model


def test_a_renamed_output_never_takes_another_outputs_name(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Outputs "a/b" (a path inside the archive) and "a_b": "a_b" keeps its own name and values; "a/b" is saved under
    another name, and the run says which."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    nodes = [helper.make_node("Relu", ["x"], ["a/b"]), helper.make_node("Neg", ["x"], ["a_b"])]
    graph = helper.make_graph(nodes, "names", [x], [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2])
                                                    for n in ("a/b", "a_b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "names.onnx")
    np.save(tmp_path / "x.npy", np.array([1.0, -2.0], np.float32))
    assert main(["run", str(tmp_path / "names.onnx"), "--target", "cpu", "--input", f"x={tmp_path / 'x.npy'}",
                 "-o", str(tmp_path / "out.npz"), "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["saved_as"] == {"a/b": "a_b_"}
    with np.load(tmp_path / "out.npz") as saved:
        assert saved["a_b"].tolist() == [-1.0, 2.0] and saved["a_b_"].tolist() == [1.0, 0.0]
