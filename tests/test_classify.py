from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import models
from onnpu import InputDataError, classify, get_target, jsonio
from onnpu.cli import main
from onnpu.vision.labels import load_labels
from onnpu.vision.preprocess import PreprocessConfig

CFG = PreprocessConfig(resize="crop", crop_ratio=1.0, scaling="imagenet")


@pytest.fixture
def twins(tmp_path: Path) -> tuple[Path, Path]:
    return (models.save(models.classifier(), tmp_path / "float.onnx"),
            models.save(models.classifier(uint8_io=True), tmp_path / "u8.onnx"))


def test_uint8_io_classifier_matches_float_twin(twins: tuple[Path, Path], photos: dict[str, Path]) -> None:
    """Parameters read from the model and the output dequantized before softmax: same top-1, scores within
    quantization error. Hard-coding 1/255 and 0, or softmaxing raw uint8 codes, would fail this."""
    images = list(photos.values())
    ref = classify(images, twins[0], get_target("cpu"), preprocess=CFG, top=10)
    u8 = classify(images, twins[1], get_target("cpu"), preprocess=CFG, top=10)
    assert u8.output_dequantized and u8.softmax_applied
    assert any("scale 0.025, zero point 100" in n for n in u8.notes)
    for a, b in zip(ref.images, u8.images, strict=True):
        assert a.top[0].index == b.top[0].index
        sa = {p.index: p.score for p in a.top}
        sb = {p.index: p.score for p in b.top}
        assert max(abs(sa[i] - sb[i]) for i in sa) < 0.05


@pytest.mark.npu
def test_uint8_io_classifier_on_npu(twins: tuple[Path, Path], photos: dict[str, Path]) -> None:
    images = [photos["grace_hopper"], photos["chelsea"]]
    ref = classify(images, twins[0], get_target("cpu"), preprocess=CFG)
    # its interior is float: it needs an HTP that computes float (v73 here; QCS6490's v68 computes none)
    npu = classify(images, twins[1], get_target("npu", allow_fallback=False, soc="qcs8550"), preprocess=CFG)
    assert npu.providers == ["QNNExecutionProvider"]
    assert [i.top[0].index for i in npu.images] == [i.top[0].index for i in ref.images]


def test_labels(tmp_path: Path) -> None:
    assert load_labels(None, 1000)[652] == "military uniform"
    assert load_labels(None, 1001)[0] == "background"
    assert load_labels(None, 3) == ["class 0", "class 1", "class 2"]
    txt = tmp_path / "labels.txt"
    txt.write_text("cat\ndog\n")
    assert load_labels(txt, 2) == ["cat", "dog"]
    js = tmp_path / "labels.json"
    js.write_text(json.dumps({"1": "dog", "0": "cat"}))
    assert load_labels(js, 2) == ["cat", "dog"]
    with pytest.raises(InputDataError, match="has 2 labels but the model has 10 classes"):
        load_labels(txt, 10)
    with pytest.raises(InputDataError, match="labels file not found"):
        load_labels(tmp_path / "none.txt", 2)


def test_cli_errors(twins: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = str(twins[0])
    labels = tmp_path / "three.txt"
    labels.write_text("a\nb\nc\n")
    not_image = tmp_path / "readme.png"
    not_image.write_text("text")
    cut = tmp_path / "cut.jpg"
    from PIL import Image

    Image.new("RGB", (300, 300), (200, 10, 10)).save(tmp_path / "full.jpg")
    cut.write_bytes((tmp_path / "full.jpg").read_bytes()[:400])
    cases = [
        ([str(not_image)], "not an image file"),
        ([str(cut)], "truncated or corrupt"),
        ([str(tmp_path / "full.jpg"), "--labels", str(tmp_path / "missing.txt")], "labels file not found"),
        ([str(tmp_path / "full.jpg"), "--labels", str(labels)], "has 3 labels but the model has 10 classes"),
    ]
    for extra, message in cases:
        assert main(["classify", *extra, "--model", model]) == 1, message
        err = capsys.readouterr().err
        assert message in err and err.startswith("error:")


def test_cli_json_with_labels(twins: tuple[Path, Path], photos: dict[str, Path], tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    labels = tmp_path / "ten.txt"
    labels.write_text("\n".join(f"thing {i}" for i in range(10)))
    code = main(["classify", str(photos["coffee"]), "--model", str(twins[1]), "--labels", str(labels), "--top", "3",
                 "--json", "--scaling", "imagenet", "--crop-ratio", "1.0"])
    assert code == 0
    data = jsonio.loads(capsys.readouterr().out)
    top = data["images"][0]["top"]
    assert len(top) == 3 and top[0]["label"].startswith("thing ")
    assert data["output_dequantized"] is True


@pytest.mark.zoo
def test_default_model_classifies_photos_on_cpu(zoo_model, photos: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    result = classify([photos["grace_hopper"], photos["chelsea"]], zoo_model.float_model, get_target("cpu"))
    grace, cat = result.images
    assert (grace.top[0].index, grace.top[0].label) == (652, "military uniform")
    assert 281 <= cat.top[0].index <= 285
    assert result.preprocess.crop_ratio == 1.0  # declared by the model's metadata


@pytest.mark.zoo
@pytest.mark.npu
def test_default_model_classifies_photos_on_npu(zoo_model, photos: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    result = classify([photos["grace_hopper"], photos["chelsea"]], zoo_model.quantized_model,
                      get_target("npu", allow_fallback=False))
    grace, cat = result.images
    assert grace.top[0].index == 652
    assert 281 <= cat.top[0].index <= 285
    assert result.placement is not None and result.placement.fully_on_target
    assert result.placement.partitions == 1 and result.placement.on_target == result.placement.total == 285


def test_cli_prints_the_top_classes_as_a_plain_table(twins: tuple[Path, Path], photos: dict[str, Path],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """The one-image path prints plain text (no rich: start-up), --top classes, best first, and --threads works."""
    image = photos["chelsea"]
    expected = classify([image], twins[0], get_target("cpu"), top=3).images[0].top
    assert main(["classify", str(image), "--model", str(twins[0]), "--top", "3", "--threads", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("placement: 5 of 5 nodes on the CPU")
    head = next(i for i, line in enumerate(lines) if line.startswith(f"{image}  ("))
    assert lines[head + 1].split() == ["#", "class", "label", "score"]
    rows = [line.split() for line in lines[head + 3:head + 6]]
    assert [int(r[1]) for r in rows] == [p.index for p in expected]
    assert [float(r[-1]) for r in rows] == [round(p.score, 4) for p in expected]
    assert lines[-1].startswith("session ") and "median latency" in lines[-1]


@pytest.mark.parametrize(("flags", "message"), [
    (["--size", "0x0"], "--size 0x0: an image has at least one pixel per side"),
    (["--mean", "inf,0,0"], "--mean inf,0.0,0.0: every value must be a finite number"),
    (["--std", "0,1,1"], "--std 0.0,1.0,1.0: a standard deviation is greater than 0"),
    (["--mean", "0.1,0.2"], "--mean has 2 values: one for all channels, or three (R, G, B)"),
])
def test_preprocessing_flags_that_make_no_image_are_refused(twins: tuple[Path, Path], photos: dict[str, Path],
                                                            flags: list[str], message: str,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["classify", str(photos["astronaut"]), "--model", str(twins[0]), *flags]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"error: {message}" and err[1].startswith("hint: e.g. ") and len(err) == 2


@pytest.mark.parametrize("declared", ['{"std": [0, 1, 1]', '[1, 2]', '{"mean": "abc"}', '{"mean": [1, 2]}',
                                      '{"channels": "XYZ"}', '{"size": [1, 2, 3]}'])
def test_a_model_declaring_unusable_preprocessing_is_one_line(tmp_path: Path, photos: dict[str, Path], declared: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The preprocessing a model declares in its metadata (what onnpu writes into the models it builds) is read from
    an untrusted file: what is not one is refused naming the file, for a photo or a folder alike."""
    model = models.classifier()
    entry = model.metadata_props.add()
    entry.key, entry.value = "onnpu.preprocess", declared
    path = models.save(model, tmp_path / "declared.onnx")
    folder = tmp_path / "frames"
    folder.mkdir()
    shutil.copy(photos["astronaut"], folder)
    for source in (photos["astronaut"], folder):
        assert main(["classify", str(source), "--model", str(path)]) == 1
        err = capsys.readouterr().err.splitlines()
        assert err[0].startswith(f"error: {path}: its metadata 'onnpu.preprocess' declares no preprocessing onnpu "
                                 "can use (") and len(err) == 2


def test_a_size_a_fixed_model_does_not_use_is_said(twins: tuple[Path, Path], photos: dict[str, Path]) -> None:
    result = classify([photos["astronaut"]], twins[0], get_target("cpu"),
                      preprocess=PreprocessConfig(size=(64, 64)))
    assert any(n.startswith("--size 64x64 not used: the model's input is fixed at 32x32 (`onnpu fix-shapes ")
               for n in result.notes)
