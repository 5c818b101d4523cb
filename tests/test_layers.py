"""``onnpu layers``: per-layer accuracy, float vs quantized (exact QDQ arithmetic) and NPU vs CPU, on real
models: the built-in EfficientNet-Lite0 against its nearest-rounded W8A8 copy, a copy with one layer
deliberately damaged, and the QDQ test models on the HTP emulator."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import models
from onnpu import get_target, jsonio
from onnpu.cli import main
from onnpu.measure.layers.compare import compare_layers
from onnpu.measure.layers.graph import plan_layers
from onnpu.measure.layers.report import write_layers_report
from onnpu.measure.layers.result import rank
from onnpu.quantization.config import QuantizeConfig
from onnpu.quantization.pipeline import quantize

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
NEAREST = QuantizeConfig(rounding="nearest")


@pytest.fixture(scope="session")
def nearest_w8a8(zoo_model, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The built-in float model quantized W8A8 with nearest rounding on the photo crops it is calibrated on,
    and a folder of held-out crops (photos never used for calibration)."""
    from onnpu.model.files import read_model
    from onnpu.model.inspection import tensor_infos
    from onnpu.quantization.calibration import CalibrationData
    from onnpu.vision.preprocess import image_to_array, preprocess_for
    from onnpu.zoo.photos import EVALUATION_PHOTOS, calibration_crops, write_crops

    folder = tmp_path_factory.mktemp("nearest")
    proto = read_model(zoo_model.float_model, load_external_data=False)
    info = tensor_infos(proto)[0][0]
    feeds = [{info.name: image_to_array(img, info, preprocess_for(proto))} for img in calibration_crops()]
    calibration = CalibrationData("photo crops", feeds, [], [], [])
    out = folder / "efficientnet-lite0.w8a8-nearest.onnx"
    quantize(zoo_model.float_model, out, calibration, config=NEAREST, holdout=0)
    write_crops(folder / "heldout", per_photo=8, photos=EVALUATION_PHOTOS)
    return zoo_model.float_model, out, folder / "heldout", feeds


def _classifier_pair(tmp_path: Path, io: str = "float") -> tuple[Path, Path]:
    src = models.save(models.classifier(), tmp_path / "cls.onnx")
    out = tmp_path / f"cls.{io}.qdq.onnx"
    quantize(src, out, "random", io=io, config=NEAREST)
    return src, out


def test_tensors_matched_by_the_names_onnx_runtime_gives_them(tmp_path: Path) -> None:
    """The quantizer keeps the float names: X → X_QuantizeLinear_Output → X_DequantizeLinear_Output, and a
    graph output Y is the DequantizeLinear's output; with --io uint8 the I/O are the integers themselves."""
    src, out = _classifier_pair(tmp_path)
    plan = plan_layers(onnx.load(str(src)), onnx.load(str(out)))
    by_name = plan.by_name()
    assert [t.name for t in plan.tensors] == ["x", "r", "p", "f", "logits"]
    assert by_name["x"].is_input and by_name["logits"].is_output
    assert by_name["r"].op == "Conv+Relu"  # the quantizer keeps no Conv output: the Relu folds into its range
    assert by_name["r"].integer == "r_QuantizeLinear_Output" and by_name["r"].pre_quant == "r"
    assert by_name["logits"].integer == "logits_QuantizeLinear_Output"
    assert by_name["logits"].pre_quant == "logits_QuantizeLinear_Input"
    assert plan.skipped == ["c"] and plan.reference_total == 6
    _, u8 = _classifier_pair(tmp_path, io="uint8")
    twin = plan_layers(onnx.load(str(src)), onnx.load(str(u8))).by_name()
    assert twin["x"].integer == "x" and twin["x"].pre_quant is None
    assert twin["logits"].integer == "logits" and twin["logits"].output == "logits"


def test_chunks_change_memory_not_numbers(tmp_path: Path) -> None:
    src = models.save(models.layer_zoo(), tmp_path / "zoo.onnx")
    quantize(src, tmp_path / "q.onnx", "random", config=NEAREST)
    whole = compare_layers(src, tmp_path / "q.onnx", count=3)
    split = compare_layers(src, tmp_path / "q.onnx", count=3, max_mb=0.01)
    assert whole.chunks == 1 and split.chunks == len(split.rows) > 5
    for a, b in zip(whole.rows, split.rows, strict=True):
        assert (a.name, a.max_error_steps, a.cause) == (b.name, b.max_error_steps, b.cause)
        for key in ("sqnr_db", "layer_sqnr_db", "noise_share", "cosine"):
            assert getattr(a, key) == pytest.approx(getattr(b, key), rel=1e-9, abs=1e-12), (a.name, key)


def test_cli_json_table_and_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, out = _classifier_pair(tmp_path)
    assert main(["layers", str(src), str(out), "--count", "3", "--json"]) == 0
    data = jsonio.loads(capsys.readouterr().out)
    assert data["schema"] == "onnpu.layers/1" and data["samples"] == 3
    assert [r["name"] for r in data["rows"]] == ["x", "r", "p", "f", "logits"]
    assert all(isinstance(r["sqnr_db"], float) and r["max_error_steps"] is not None for r in data["rows"])
    assert data["final_sqnr_db"] == data["rows"][-1]["sqnr_db"] and data["top"]
    assert sum(r["noise_share"] for r in data["rows"]) == pytest.approx(1.0)
    assert main(["layers", str(src), str(out), "--count", "2", "--threshold", "60"]) == 0
    text = capsys.readouterr().out
    assert "first layer below 60 dB: #0 x" in text and "make the most of the output noise" in text
    assert main(["layers", str(out), "--count", "2"]) == 1  # one model and no device: nothing to compare
    assert "needs the float model" in capsys.readouterr().err
    other = models.save(models.float_conv(), tmp_path / "other.onnx")  # same input name, nothing else shared
    assert main(["layers", str(other), str(out), "--count", "2"]) == 1
    err = capsys.readouterr().err
    assert "share no activation names" in err and "hint:" in err
    assert main(["layers", str(src), str(out), "--inputs", str(tmp_path / "nowhere")]) == 1
    assert "not a folder of images or samples, an .npz/.npy file, or `random`" in capsys.readouterr().err


@pytest.mark.zoo
def test_efficientnet_layers_and_their_ranking_beat_random_layers_at_16_bits(nearest_w8a8) -> None:  # type: ignore[no-untyped-def]
    """The layers `layers` ranks worst, raised to 16 bits, improve the final SQNR on held-out crops more than
    the same number of layers chosen at random (seeded)."""
    from onnpu.model.files import read_model
    from onnpu.model.inspection import tensor_infos
    from onnpu.model.transforms import constants_to_initializers
    from onnpu.quantization.calibration import load_calibration
    from onnpu.quantization.evaluate import evaluate
    from onnpu.quantization.recipe import quantize_qdq_model
    from onnpu.vision.preprocess import preprocess_for

    float_path, quant_path, heldout, calibration = nearest_w8a8
    result = compare_layers(float_path, quant_path, inputs=heldout, count=8, top=5)
    assert len(result.rows) == 62 and result.reference_tensors == 95  # Conv outputs folded into their Clip
    assert result.rows[0].name == "image" and result.rows[-1].name == "logits" and result.rows[-1].is_output
    assert 15 < (result.final_sqnr_db or 0) < 30
    assert result.notes and "add up to" in result.notes[-1]
    fmodel = constants_to_initializers(read_model(float_path))
    held = load_calibration(heldout, tensor_infos(fmodel)[0], preprocess=preprocess_for(fmodel), holdout=0).calibration

    def gain(names: list[str]) -> float:
        model = quantize_qdq_model(fmodel, calibration, NEAREST, sixteen_bit=names)
        return evaluate(fmodel, model, held)[0].sqnr_db

    base = gain([])
    worst = [result.rows[i].name for i in rank(result.rows, 5)]
    ranked = gain(worst) - base
    candidates = [r.name for r in result.rows if r.dtype == "uint8"]
    rng = np.random.default_rng(0)
    random_gains = [gain(list(rng.choice(candidates, 5, replace=False))) - base for _ in range(3)]
    assert ranked > max(random_gains) and ranked > 0.2, (worst, ranked, random_gains)


def _damage(quant_path: Path, node_name: str, factor: float, out: Path) -> None:
    """Scale the weights of one Conv in the quantized copy (its weight DequantizeLinear's scale)."""
    model = onnx.load(str(quant_path))
    conv = next(n for n in model.graph.node if n.name == node_name)
    dq = next(n for n in model.graph.node if n.output[0] == conv.input[1])
    scale = next(t for t in model.graph.initializer if t.name == dq.input[1])
    scale.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(scale) * np.float32(factor), scale.name))
    onnx.save(model, str(out))


@pytest.mark.zoo
def test_a_damaged_layer_is_the_first_to_diverge(nearest_w8a8, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    float_path, quant_path, heldout, _ = nearest_w8a8
    healthy = compare_layers(float_path, quant_path, inputs=heldout, count=4, threshold_db=12)
    assert healthy.first_below is None
    _damage(quant_path, "/_blocks.8/_project_conv/Conv", 1.6, tmp_path / "damaged.onnx")
    result = compare_layers(float_path, tmp_path / "damaged.onnx", inputs=heldout, count=4, threshold_db=12)
    first = result.row(result.first_below)
    assert first is not None and first.name == "/_blocks.8/_project_conv/Conv_output_0", first
    assert first.node == "/_blocks.8/_project_conv/Conv" and first.op == "Conv"
    assert result.top[0] == first.index and first.cause == "weights / arithmetic"
    assert first.layer_sqnr_db is not None and first.layer_sqnr_db < 15  # the layer alone, not what it inherits
    before = healthy.rows[first.index - 1]
    assert result.rows[first.index - 1].sqnr_db == pytest.approx(before.sqnr_db)  # untouched upstream


def test_report_renders_in_headless_chromium(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Debian chromium is not installed (.ci/run installs it)")
    src, out = _classifier_pair(tmp_path)
    assert main(["layers", str(src), str(out), "--count", "3", "--report", str(tmp_path / "rep")]) == 0
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == ["layers.png", "report.html", "report.json",
                                                                    "report.md"]
    jsonio.loads((tmp_path / "rep" / "report.json").read_text())
    page = (tmp_path / "rep" / "report.html").as_uri()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'chromium'}"]
    dom = subprocess.run([browser, *flags, "--dump-dom", page], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    assert "onnpu layers report" in dom and "data:image/png;base64" in dom and "Conv+Relu" in dom
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "layers_report.png"
    done = subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1280,1400", page],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    assert shot.stat().st_size > 10_000


@pytest.mark.npu
@pytest.mark.parametrize("io", ["float", "uint8"])
def test_npu_matches_the_exact_cpu_arithmetic_within_one_step(tmp_path: Path, io: str) -> None:
    src, out = _classifier_pair(tmp_path, io)
    result = compare_layers(src, out, count=3, target=get_target("npu"))
    device = result.device
    assert device is not None and device.samples == 3
    assert device.outputs_match and device.outputs_max_steps == 0  # extra outputs changed nothing at the outputs
    assert device.first_departure is None
    checked = [r for r in result.rows if r.device is not None]
    assert [r.name for r in checked] == ["r", "p", "f", "logits"]
    assert all(r.device.max_steps <= 1 and (r.device.alone_max_steps or 0) <= 1 for r in checked if r.device)
    assert device.first_op_departure is None
    assert "NPU" in device.placement and "extra output" in device.note
    assert jsonio.loads(jsonio.dumps(result)) == jsonio.to_jsonable(result.to_dict())  # strict JSON, inf as null


def _tiny(nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto], path: Path, channels_in: int) -> Path:
    """x [1, channels_in, 16, 16] → nodes → y [1, 8, 16, 16]."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(nodes, path.stem,
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels_in, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 16, 16])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    return models.save(model, path)


@pytest.mark.npu
def test_npu_departure_that_builds_up_is_told_from_an_op_that_departs(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Conv → Exp at 8 bits: each op alone stays within one step of the exact arithmetic, but the steep Exp
    amplifies the conv's one-step differences past one step."""
    from onnx import helper

    w = numpy_helper.from_array(np.random.default_rng(0).normal(0, 0.5, (8, 3, 3, 3)).astype(np.float32), "w")
    src = _tiny([helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
                 helper.make_node("Exp", ["c"], ["y"], name="exp")], [w], tmp_path / "exp.onnx", 3)
    quantize(src, tmp_path / "exp.qdq.onnx", "random", config=NEAREST)
    assert main(["layers", str(tmp_path / "exp.qdq.onnx"), "--target", "npu", "--count", "2", "--json"]) == 0
    data = jsonio.loads(capsys.readouterr().out)
    rows = {r["name"]: r["device"] for r in data["rows"]}
    assert rows["c"]["max_steps"] <= 1 < rows["y_QuantizeLinear_Input"]["max_steps"]
    assert rows["c"]["alone_max_steps"] <= 1 and rows["y_QuantizeLinear_Input"]["alone_max_steps"] <= 1
    assert data["device"]["first_departure"] == "y_QuantizeLinear_Input"
    assert data["device"]["first_op_departure"] is None
    assert data["reference"] is None and data["rows"][1]["sqnr_db"] is None  # no float model: NPU vs CPU only
    assert main(["layers", str(tmp_path / "exp.qdq.onnx"), "--target", "npu", "--count", "2"]) == 0
    text = capsys.readouterr().out
    assert "first tensor more than one step from the CPU: #2 y_QuantizeLinear_Input (node exp, Exp)" in text
    assert "every op alone (fed the CPU's inputs) stays within one step" in text and "HTP arch" in text


@pytest.mark.npu
def test_npu_op_that_departs_on_its_own_is_found(tmp_path: Path) -> None:
    """Abs → Sqrt at 16 bits: the HTP's Abs is exact, its 16-bit Sqrt departs by tens of steps on the very
    inputs the CPU used."""
    from onnx import helper

    src = _tiny([helper.make_node("Abs", ["x"], ["a"], name="abs"),
                 helper.make_node("Sqrt", ["a"], ["y"], name="sqrt")], [], tmp_path / "sqrt.onnx", 8)
    quantize(src, tmp_path / "sqrt.qdq.onnx", "random", config=QuantizeConfig("u16", rounding="nearest"))
    result = compare_layers(src, tmp_path / "sqrt.qdq.onnx", count=2, target=get_target("npu"))
    assert result.device is not None
    op = result.row(result.device.first_op_departure)
    assert op is not None and (op.node, op.op, op.dtype) == ("sqrt", "Sqrt", "uint16")
    assert op.device is not None and op.device.alone_max_steps is not None and op.device.alone_max_steps > 1
    abs_row = result.rows[1].device
    assert abs_row is not None and abs_row.max_steps == abs_row.alone_max_steps == 0
    assert result.device.first_departure == op.index and result.rows[op.index].sqnr_db is not None


@pytest.mark.npu
@pytest.mark.zoo
def test_efficientnet_on_the_npu_layer_by_layer(nearest_w8a8, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    float_path, quant_path, heldout, _ = nearest_w8a8
    result = compare_layers(float_path, quant_path, inputs=heldout, count=2, target=get_target("npu"))
    device = result.device
    assert device is not None and device.outputs_match
    checked = [r.device for r in result.rows if r.device is not None]
    assert len(checked) == 61  # every quantized activation but the input
    # measured: every op alone stays within one step of the exact arithmetic, while the tensors of the whole
    # model drift by tens of steps as later layers amplify one-step rounding differences
    assert device.first_op_departure is None and all((d.alone_max_steps or 0) <= 1 for d in checked)
    assert device.first_departure is not None and max(d.max_steps for d in checked) > 1
    assert "283 of 285 nodes on the NPU" in device.placement and device.placement == device.plain_placement
    files = write_layers_report(result, tmp_path / "rep")
    assert (tmp_path / "rep" / "layers.png").stat().st_size > 20_000 and files[-1].name == "report.html"


def test_advice_after_random_inputs_names_real_data_of_the_models_kind() -> None:
    """Layers that lose to clipping on random inputs: the fix is real inputs — photos for a one-image model, a
    samples file (one array per input) for a text, audio or multi-input model."""
    from onnpu.measure.layers.advice import CLIPPING, advise
    from onnpu.measure.layers.result import LayerRow
    from onnpu.model.inspection import TensorInfo
    from onnpu.runtime.inputs.kinds import real_data_placeholder

    image = [TensorInfo("x", "float", [1, 3, 224, 224])]
    text = [TensorInfo("input_ids", "int64", [1, 128]), TensorInfo("attention_mask", "int64", [1, 128])]
    audio = [TensorInfo("wav", "float", [1, 16000])]
    assert real_data_placeholder(image) == "PHOTOS/"
    assert real_data_placeholder(text) == real_data_placeholder(audio) == "SAMPLES.npz"
    rows = [LayerRow(0, "t", "n", "Add", [], [1, 8], "uint8", 0.1, cause=CLIPPING)]
    for infos, wanted in ((image, "--calib PHOTOS/"), (text, "--calib SAMPLES.npz")):
        advice = advise(rows, [0], "m.onnx", "random", {}, 10.0, real_data_placeholder(infos))
        command = next(a.command for a in advice if a.kind == "calibration")
        assert command is not None and command.endswith(wanted)
