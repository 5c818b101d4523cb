"""Typed inputs for every kind of model: what each input feeds decides its random values, overrides per input,
the samples format and its errors, and NaN/Inf outputs refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import input_models
import models
from onnpu import get_target, run_model
from onnpu.cli import main
from onnpu.errors import InputDataError, RunError
from onnpu.runtime.inputs import input_kinds, random_feeds


@pytest.fixture
def encoder(tmp_path: Path) -> Path:
    return models.save(input_models.sentence_encoder(), tmp_path / "encoder.onnx")


def test_kinds_read_from_the_graph() -> None:
    kinds = input_kinds(input_models.sentence_encoder())
    assert (kinds["input_ids"].kind, kinds["input_ids"].low, kinds["input_ids"].high) == ("token ids", 0, 99)
    assert (kinds["token_type_ids"].low, kinds["token_type_ids"].high) == (0, 1)
    assert kinds["attention_mask"].kind == "mask"
    assert input_kinds(input_models.waveform_classifier())["waveform"].kind == "waveform"
    pixels = input_kinds(input_models.uint8_pixels_classifier())["pixels"]
    assert (pixels.kind, pixels.low, pixels.high) == ("image", 0, 255)
    quantized = input_kinds(models.classifier(uint8_io=True))  # a Q/DQ input: the range its parameters cover
    assert next(iter(quantized.values())).kind == "quantized"


def test_random_feeds_are_typed_and_in_range() -> None:
    for feed in random_feeds(input_models.sentence_encoder(), 4, seed=3):
        assert all(a.dtype == np.int64 for a in feed.values())
        assert feed["input_ids"].min() >= 0 and feed["input_ids"].max() < input_models.VOCAB
        mask = feed["attention_mask"][0]
        assert set(np.unique(mask)) <= {0, 1} and mask[0] == 1  # padding: ones first, at least one
        assert np.all(np.diff(mask) <= 0)
    wave = random_feeds(input_models.waveform_classifier(), 1)[0]["waveform"]
    assert wave.dtype == np.float32 and -1 <= wave.min() < -0.9 and 0.9 < wave.max() <= 1


def test_encoder_runs_and_compares_with_random_inputs(encoder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_model(encoder, get_target("cpu"))
    assert np.all(np.isfinite(result.outputs["embedding"]))
    assert "token ids 0..99" in result.notes[0] and "attention_mask: mask" in result.notes[0]
    assert main(["compare", str(encoder), str(encoder), "--targets", "cpu,cpu", "--count", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["outputs"][0]["cosine"] == pytest.approx(1.0) and "token ids" in report["random_inputs"]
    assert report["outputs"][0]["task"] == "embedding" and report["outputs"][0]["task_figure"].startswith("cosine")


def test_out_of_range_mask_gives_nan_and_is_refused(encoder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["compare", str(encoder), str(encoder), "--targets", "cpu,cpu", "--count", "2",
                 "--input-range", "attention_mask=0,255"])
    err = capsys.readouterr().err
    assert code == 1
    assert "output 'embedding' has" in err and "NaN/Inf" in err and "random[0]" in err
    assert "attention_mask: given 0..255" in err


def test_overrides(encoder: Path) -> None:
    result = run_model(encoder, get_target("cpu"), input_ranges={"input_ids": (5, 5), "attention_mask": (1, 1)})
    assert "input_ids: given 5" in result.notes[0]
    with pytest.raises(InputDataError, match="no input named 'ids'"):
        run_model(encoder, get_target("cpu"), input_ranges={"ids": (0, 1)})


def test_cli_flags_are_checked(encoder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(encoder), "--input-range", "input_ids=9", "--json"]) == 1
    assert "not NAME=LO,HI" in capsys.readouterr().err
    assert main(["run", str(encoder), "--input-value", "attention_mask=1", "--json"]) == 0
    assert "attention_mask: given 1" in json.loads(capsys.readouterr().out)["notes"][0]
    npz = encoder.with_suffix(".npz")
    np.savez(npz, **random_feeds(input_models.sentence_encoder(), 1)[0])
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", str(encoder), "--targets", "cpu,cpu", "--inputs", str(npz), "--input-range", "input_ids=0,5"])
    assert exit_info.value.code == 2
    assert "shape random inputs" in capsys.readouterr().err


def test_samples_file(encoder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feeds = random_feeds(input_models.sentence_encoder(), 3, seed=1)
    stacked = {k: np.stack([f[k] for f in feeds]) for k in feeds[0]}
    good = tmp_path / "samples.npz"
    np.savez(good, **{k: v.astype(np.int32) for k, v in stacked.items()})  # int32 ids fit an int64 input
    assert main(["compare", str(encoder), "--targets", "cpu,cpu", "--inputs", str(good), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 3
    folder = tmp_path / "folder"
    folder.mkdir()
    for k, f in enumerate(feeds):
        np.savez(folder / f"s{k}.npz", **f)
    assert main(["compare", str(encoder), "--targets", "cpu,cpu", "--inputs", str(folder), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 3
    bad = tmp_path / "bad.npz"
    np.savez(bad, **{**stacked, "input_ids": stacked["input_ids"] + 0.5})
    assert main(["compare", str(encoder), "--targets", "cpu,cpu", "--inputs", str(bad)]) == 1
    assert "array 'input_ids' is float64" in capsys.readouterr().err
    missing = tmp_path / "missing.npz"
    np.savez(missing, ids=stacked["input_ids"])
    assert main(["compare", str(encoder), "--targets", "cpu,cpu", "--inputs", str(missing)]) == 1
    err = capsys.readouterr().err
    assert "holds ids int64 [3, 1, 16]" in err and "input_ids int64 [1, 16]" in err


def test_npy_for_a_one_input_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wave = models.save(input_models.waveform_classifier(), tmp_path / "wave.onnx")
    t = np.arange(4000) / 16000
    tones = np.stack([0.5 * np.sin(2 * np.pi * f * t)[None].astype(np.float32) for f in (220, 440)])
    np.save(tmp_path / "tones.npy", tones)
    assert main(["compare", str(wave), "--targets", "cpu,cpu", "--inputs", str(tmp_path / "tones.npy"),
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 2


def test_uint8_pixels_run_and_bench(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = models.save(input_models.uint8_pixels_classifier(), tmp_path / "pixels.onnx")
    result = run_model(path, get_target("cpu"))
    assert "pixels: image 0..255" in result.notes[0]
    assert main(["compare", str(path), "--targets", "cpu,cpu", "--count", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outputs"][0]["top1_agreement"] == 1.0


def test_simplify_refuses_nan_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = models.save(input_models.nan_model(), tmp_path / "nan.onnx")
    assert main(["simplify", str(path), "-o", str(tmp_path / "out.onnx")]) == 1
    err = capsys.readouterr().err
    assert "output 'z' has 8 NaN/Inf value(s) on random input 0" in err
    assert not (tmp_path / "out.onnx").exists()


def test_nan_error_names_the_output() -> None:
    from onnpu.runtime.inputs import check_finite

    check_finite({"a": [np.ones(3)]}, model="m")
    with pytest.raises(RunError, match=r"output 'b' has 1 NaN/Inf value\(s\) on cat.npz\[1\]"):
        check_finite({"a": [np.ones(3)] * 2, "b": [np.ones(2), np.array([1, np.inf])]}, model="m",
                     samples=["cat.npz[0]", "cat.npz[1]"])
