from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import models
from conftest import sha256
from onnpu import InputDataError, QuantizationError, get_target, inspect_model, jsonio, run_model
from onnpu.cli import main
from onnpu.model.files import write_model
from onnpu.model.inspection import tensor_infos
from onnpu.quantization import calibration_cache
from onnpu.quantization.config import QuantizeConfig
from onnpu.quantization.pipeline import quantize
from onnpu.runtime.session import create_session
from onnpu.vision.preprocess import PreprocessConfig

CFG = PreprocessConfig(resize="crop", crop_ratio=1.0, scaling="imagenet")


def test_random_calibration_and_quality_report(tmp_path: Path) -> None:
    src = models.save(models.float_conv(), tmp_path / "conv.onnx")
    before = sha256(src)
    result = quantize(src, tmp_path / "q.onnx", "random", holdout=0.25)
    assert (result.calibration_count, result.heldout_count) == (12, 4)
    q = result.quality[0]
    assert q.name == "y" and q.samples == 4
    assert 20 < q.sqnr_db < 60 and q.cosine > 0.99 and q.max_abs_error > 0
    assert q.top1_agreement is None  # not a classifier output
    info = inspect_model(tmp_path / "q.onnx")
    assert info.quantization_style == "QDQ"
    assert info.inputs[0].quant is not None and info.inputs[0].quant.dtype == "uint8"
    assert jsonio.loads(info.metadata["onnpu.quantization"])["per_channel"] is True
    assert sha256(src) == before


def test_image_folder_calibration_reports_classifier_agreement(tmp_path: Path, photos: dict[str, Path]) -> None:
    from onnpu.zoo.photos import write_crops

    write_crops(tmp_path / "crops", per_photo=3, photos=("skimage:coffee.png", "skimage:astronaut.png",
                                                         "skimage:rocket.jpg", "skimage:chelsea.png"))
    src = models.save(models.classifier(), tmp_path / "cls.onnx")
    result = quantize(src, tmp_path / "q.onnx", tmp_path / "crops", preprocess=CFG, holdout=0.25)
    assert result.heldout_count == 3 and result.calibration_count == 9  # one photo's crops held out together
    q = result.quality[0]
    assert q.top1_agreement is not None and q.top5_overlap is not None
    # measured: 100 % / 100 %, 42.0 dB (nearest rounding: 40.6 dB); a lost class or dB is a regression
    assert q.top1_agreement == 1.0 and q.top5_overlap == 1.0
    assert q.sqnr_db > 40


def test_npz_calibration(tmp_path: Path) -> None:
    src = models.save(models.float_conv(), tmp_path / "conv.onnx")
    samples = np.random.default_rng(0).random((10, 1, 3, 16, 16), dtype=np.float32)
    np.savez(tmp_path / "calib.npz", x=samples)
    result = quantize(src, tmp_path / "q.onnx", tmp_path / "calib.npz", holdout=0.2)
    assert (result.calibration_count, result.heldout_count) == (8, 2)
    np.savez(tmp_path / "wrong.npz", image=samples)
    with pytest.raises(InputDataError, match="no array named 'x'"):
        quantize(src, tmp_path / "q2.onnx", tmp_path / "wrong.npz")


def test_uint8_io(tmp_path: Path) -> None:
    src = models.save(models.float_conv(), tmp_path / "conv.onnx")
    quantize(src, tmp_path / "q8.onnx", "random", io="uint8")
    info = inspect_model(tmp_path / "q8.onnx")
    x, y = info.inputs[0], info.outputs[0]
    assert (x.elem_type, y.elem_type) == ("uint8", "uint8")
    assert x.quant is not None and "metadata" in x.quant.source
    table = jsonio.loads(info.metadata["onnpu.io_quantization"])
    assert set(table) == {"x", "y"} and table["x"]["scale"] == pytest.approx(x.quant.scale[0])
    quantize(src, tmp_path / "qf.onnx", "random", io="float")
    data = np.random.default_rng(1).random((1, 3, 16, 16), dtype=np.float32)

    def exact(path: Path) -> np.ndarray:
        session = create_session(path, get_target("cpu"), optimization="disabled")
        return run_model(path, get_target("cpu"), inputs={"x": data}, session=session).outputs["y"]

    out, ref = exact(tmp_path / "q8.onnx"), exact(tmp_path / "qf.onnx")
    assert out.dtype == np.uint8 and ref.dtype == np.float32
    assert y.quant is not None
    restored = (out.astype(np.float32) - y.quant.zero_point[0]) * y.quant.scale[0]
    np.testing.assert_allclose(restored, ref, atol=1e-6)  # same model, the I/O conversion moved to the caller


def test_dynamic_model_is_refused_with_a_hint(tmp_path: Path) -> None:
    src = models.save(models.float_conv(batch="N"), tmp_path / "dyn.onnx")
    with pytest.raises(QuantizationError, match="dynamic dims") as info:
        quantize(src, tmp_path / "q.onnx", "random")
    assert "fix-shapes" in (info.value.hint or "")


def test_external_data_in_external_data_out(tmp_path: Path) -> None:
    src = write_model(models.float_conv(hidden=64), tmp_path / "ext.onnx", external_data=True)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    quantize(src, out_dir / "q.onnx", "random")
    assert sorted(p.name for p in out_dir.iterdir()) == ["q.onnx", "q.onnx.data"]


def test_mixed_precision_raises_sensitive_activations(tmp_path: Path) -> None:
    src = models.save(models.classifier(), tmp_path / "cls.onnx")
    nearest = QuantizeConfig(rounding="nearest")  # the rounds are measured with nearest rounding
    plain = quantize(src, tmp_path / "plain.onnx", "random", holdout=0.25, config=nearest)
    result = quantize(src, tmp_path / "mixed.onnx", "random", holdout=0.25, target_sqnr=plain.worst_sqnr + 10,
                      config=nearest)
    assert result.steps and result.sixteen_bit
    # on this model weight rounding dominates: raising every activation gains little, and onnpu says so
    # measured: 43.79 dB plain, rounds 43.79 → 44.80 dB: raising precision may gain little, never lose
    sqnrs = [s.sqnr_db for s in result.steps]
    assert sqnrs == sorted(sqnrs) and sqnrs[-1] > plain.worst_sqnr
    assert len(result.steps[-1].raised) == len(set(result.sixteen_bit))
    assert any("not reached" in n for n in result.notes)
    assert result.plain_bytes is not None and result.quantized_bytes > result.plain_bytes
    from onnpu.model.files import read_model

    model = read_model(tmp_path / "mixed.onnx")
    uint16_zero_points = [t.name for t in model.graph.initializer if t.data_type == 4 and "zero_point" in t.name]
    assert uint16_zero_points
    assert jsonio.loads(inspect_model(tmp_path / "mixed.onnx").metadata["onnpu.quantization"])["sixteen_bit"]


def test_bad_options(tmp_path: Path) -> None:
    with pytest.raises(QuantizationError, match="unknown --activations value 'u4'"):
        QuantizeConfig(activations="u4")
    src = models.save(models.float_conv(), tmp_path / "conv.onnx")
    with pytest.raises(InputDataError, match=r"not a folder of images or samples, an \.npz/\.npy file, or `random`"):
        quantize(src, tmp_path / "q.onnx", tmp_path / "nothing-here")


def test_cli_quantize_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = models.save(models.float_conv(), tmp_path / "conv.onnx")
    assert main(["quantize", str(src), "-o", str(tmp_path / "q.onnx"), "--calib", "random", "--json"]) == 0
    data = jsonio.loads(capsys.readouterr().out)
    assert data["quality"][0]["sqnr_db"] > 20 and data["config"]["activations"] == "u8"
    assert main(["quantize", str(src), "-o", str(src), "--calib", "random"]) == 1
    assert "would overwrite the input model" in capsys.readouterr().err


@pytest.mark.npu
def test_quantized_model_runs_fully_on_npu(tmp_path: Path) -> None:
    src = models.save(models.float_conv(), tmp_path / "conv.onnx")
    quantize(src, tmp_path / "q.onnx", "random")
    result = run_model(tmp_path / "q.onnx", get_target("npu", allow_fallback=False))
    assert result.placement is not None and result.placement.fully_on_target
    assert result.placement.on_target == result.placement.total  # strict: every node, I/O Q/DQ included


def test_mixed_precision_keeps_the_activations_asked_for_in_16_bits(tmp_path: Path) -> None:
    """--target-sqnr re-quantizes in rounds: an activation given as 16-bit from the start (a detection head's)
    stays 16-bit in every round, never re-quantized at 8 bits."""
    from onnpu.model.files import read_model

    model = models.classifier()
    src = models.save(model, tmp_path / "cls.onnx")
    kept = model.graph.node[2].output[0]  # the GlobalAveragePool output (Conv+Relu share one QDQ)
    nearest = QuantizeConfig(rounding="nearest")
    result = quantize(src, tmp_path / "mixed.onnx", "random", holdout=0.25, target_sqnr=300, config=nearest,
                      sixteen_bit=[kept])
    assert result.steps and all(kept in step.raised for step in result.steps) and kept in result.sixteen_bit
    zero_points = {t.name: t.data_type for t in read_model(tmp_path / "mixed.onnx").graph.initializer}
    assert zero_points[f"{kept}_zero_point"] == 4  # uint16


def test_mixed_precision_sizes_rounds_from_shares_of_the_gains_and_what_a_round_measured() -> None:
    """Gains that sum to more than the noise (they interact) predict shares, not amounts; a round that removed only
    part of what its shares predicted makes the next round larger by as much."""
    from onnpu.quantization.mixed_precision import Gain, _cumulative_shares, _needed

    gains = [Gain("a", 0.06, 1), Gain("b", 0.05, 1), Gain("c", 0.05, 1), Gain("d", 0.04, 1)]  # sum 0.2 > noise 0.1
    shares = _cumulative_shares(gains)
    assert shares == pytest.approx([0.3, 0.55, 0.8, 1.0])
    assert _needed(shares, 0.1, 0.05, 1.0) == 2  # half the noise: the first two shares (55 %)
    assert _needed(shares, 0.1, 0.05, 0.6) == 4  # a round measured 60 % of its predicted removal: all four
    assert _needed(shares, 0.1, 0.001, 1.0) == 4  # out of reach: every one
    assert _cumulative_shares([Gain("a", 0.0, 1)]) == [0.0]


def test_mixed_precision_raises_the_cheapest_measured_gains_first_and_reports_the_cost(tmp_path: Path) -> None:
    """--target-sqnr measures each activation's gain (the output noise with its quantization bypassed) and its
    cost (elements), raises the best gain per element first, judges every round with the whole recipe, and says
    what share of the activation elements went to 16 bits."""
    from onnpu.model.files import read_model
    from onnpu.quantization.calibration import load_calibration
    from onnpu.quantization.mixed_precision import SENSITIVITY_SAMPLES, measured_gains

    src = models.save(models.classifier(), tmp_path / "cls.onnx")
    config = QuantizeConfig(rounding="nearest", range_search=False)
    plain = quantize(src, tmp_path / "plain.onnx", "random", holdout=0.25, config=config)
    float_model = read_model(src)
    data = load_calibration("random", tensor_infos(float_model)[0], holdout=0.25, seed=0)
    gains, noise = measured_gains(float_model, read_model(tmp_path / "plain.onnx"),
                                  data.calibration[:SENSITIVITY_SAMPLES])
    assert gains and noise > 0 and all(0 <= g.gain <= noise for g in gains) and all(g.elements > 0 for g in gains)
    assert len({g.elements for g in gains}) > 1  # a feature map and a pooled vector cost differently
    threaded, threaded_noise = measured_gains(float_model, read_model(tmp_path / "plain.onnx"),
                                              data.calibration[:SENSITIVITY_SAMPLES], jobs=2)
    assert threaded_noise == noise and [(g.name, g.gain, g.elements) for g in threaded] == \
        [(g.name, g.gain, g.elements) for g in gains]  # measured on two threads: the same gains, in order
    ranked = [g.name for g in sorted(gains, key=lambda g: -g.per_element)]
    result = quantize(src, tmp_path / "mixed.onnx", "random", holdout=0.25, config=config,
                      target_sqnr=plain.worst_sqnr + 3)
    first = result.steps[0].raised
    assert first == ranked[:len(first)], (first, ranked)
    assert result.mixed_cost is not None and 0 < result.mixed_cost <= 1
    assert any("% of the activation elements" in n for n in result.notes), result.notes
    assert result.worst_sqnr == result.steps[-1].sqnr_db

    plain_args = ["quantize", str(src), "-o", str(tmp_path / "cli.onnx"), "--calib", "random", "--rounding", "nearest",
                  "--jobs", "2", "--no-npu"]
    with pytest.raises(SystemExit) as refused:  # --jobs has nothing to do with nearest rounding alone
        main(plain_args)
    assert refused.value.code == 2
    assert main([*plain_args, "--target-sqnr", f"{plain.worst_sqnr + 3:.1f}"]) in (0, 4)  # measures gains on 2


def test_raising_every_quantized_activation_is_w8a16() -> None:
    """The names ``quantized_activations`` gives, raised to 16 bits, quantize every activation as W8A16 does (the
    detection recipe's last stage)."""
    from onnpu.quantization.calibration import load_calibration
    from onnpu.quantization.mixed_precision import quantized_activations
    from onnpu.quantization.recipe import quantize_qdq_model

    model = models.classifier()
    data = load_calibration("random", tensor_infos(model)[0], holdout=0, seed=0, limit=8)
    plain = quantize_qdq_model(model, data.calibration, QuantizeConfig(rounding="nearest"))
    names = quantized_activations(model, plain)
    raised = quantize_qdq_model(model, data.calibration, QuantizeConfig(rounding="nearest"), sixteen_bit=names)
    w8a16 = quantize_qdq_model(model, data.calibration, QuantizeConfig("u16", rounding="nearest"))

    def activation_types(m: object) -> list[int]:
        inits = {t.name: t for t in m.graph.initializer}  # type: ignore[attr-defined]
        weights = set(inits)
        return sorted(inits[n.input[2]].data_type for n in m.graph.node  # type: ignore[attr-defined]
                      if n.op_type == "QuantizeLinear" and n.input[0] not in weights and len(n.input) > 2)

    assert names and activation_types(raised) == activation_types(w8a16)
    assert set(activation_types(w8a16)) == {4}  # TensorProto.UINT16


@pytest.mark.skipif(not calibration_cache.supported(),
                    reason="this onnxruntime's quantizer takes no calibration cache (CI installs one that does)")
def test_activation_ranges_are_measured_once_per_model_and_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Quantizing the same model on the same inputs again (prepare's detection stages, mixed precision's
    candidates) reads the ranges measured the first time: the calibrator runs once, and the model written is
    byte for byte the one a fresh calibration gives. Other inputs are calibrated again."""
    import sys

    import onnxruntime.quantization

    from onnpu.quantization.calibration import load_calibration
    from onnpu.quantization.mixed_precision import quantized_activations
    from onnpu.quantization.recipe import quantize_qdq_model

    ort_quantize = sys.modules[onnxruntime.quantization.quantize_static.__module__]  # the module, not the function
    calibrations = []
    real = ort_quantize.create_calibrator

    def counted(*args: object, **kwargs: object) -> object:
        calibrations.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(ort_quantize, "create_calibrator", counted)
    model = models.classifier()
    feeds = load_calibration("random", tensor_infos(model)[0], holdout=0, seed=0, limit=8).calibration
    nearest = QuantizeConfig(rounding="nearest")
    calibration_cache.forget()
    plain = quantize_qdq_model(model, feeds, nearest)
    names = quantized_activations(model, plain)
    raised = quantize_qdq_model(model, feeds, nearest, sixteen_bit=names)
    w8a16 = quantize_qdq_model(model, feeds, QuantizeConfig("u16", rounding="nearest"))
    assert len(calibrations) == 1
    calibration_cache.forget()
    fresh_raised = quantize_qdq_model(model, feeds, nearest, sixteen_bit=names)
    fresh_w8a16 = quantize_qdq_model(model, feeds, QuantizeConfig("u16", rounding="nearest"))
    assert len(calibrations) == 2
    assert raised.SerializeToString() == fresh_raised.SerializeToString()
    assert w8a16.SerializeToString() == fresh_w8a16.SerializeToString()
    other = quantize_qdq_model(model, feeds[1:], nearest)
    assert len(calibrations) == 3 and other.SerializeToString() != plain.SerializeToString()


def test_a_scalar_float_input_quantizes_with_random_calibration(tmp_path: Path) -> None:
    """An input of shape [] (a scalar): its random calibration values reach ONNX Runtime's calibration as 0-d arrays
    (as numpy scalars, onnxruntime refused them: "Unable to handle object of type numpy.float32")."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.full((4,), 0.5, np.float32), "w")
    graph = helper.make_graph([helper.make_node("Mul", ["x", "w"], ["y"])], "scalar",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    src = tmp_path / "scalar.onnx"
    onnx.save(model, str(src))
    result = quantize(src, tmp_path / "scalar.qdq.onnx", "random")
    assert (tmp_path / "scalar.qdq.onnx").is_file() and result.quality


def test_an_unreadable_image_in_the_calibration_folder_is_skipped_and_said(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """One truncated file among the photos: calibration goes on with the others and says which was skipped (a
    folder run skips it too); a folder of nothing readable is one line."""
    from PIL import Image

    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for k in range(6):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(photos / f"p{k}.png")
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    src = models.save(models.classifier(), tmp_path / "c.onnx")
    assert main(["quantize", str(src), "-o", str(tmp_path / "q.onnx"), "--calib", str(photos), "--no-npu"]) == 0
    assert "skipped 1 unreadable image of 7" in capsys.readouterr().err
    for p in photos.glob("p*.png"):
        p.unlink()
    assert main(["quantize", str(src), "-o", str(tmp_path / "q2.onnx"), "--calib", str(photos), "--no-npu"]) == 1
    assert "none of its 1 images can be read" in capsys.readouterr().err
