"""Bad model files: each a one-line error naming the file; inputs never modified."""

from __future__ import annotations

from pathlib import Path

import pytest

import models
from conftest import sha256
from onnpu import ModelError, OutputError, inspect_model
from onnpu.cli import main
from onnpu.model.files import read_model, write_model


def test_truncated_model(tmp_path: Path) -> None:
    good = models.save(models.float_conv(), tmp_path / "good.onnx")
    bad = tmp_path / "truncated.onnx"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ModelError, match=r"truncated\.onnx: not a valid ONNX model"):
        read_model(bad)


def test_not_onnx_and_empty(tmp_path: Path) -> None:
    text = tmp_path / "notes.onnx"
    text.write_text("hello, this is not a model\n" * 20)
    with pytest.raises(ModelError, match="not a valid ONNX model"):
        read_model(text)
    empty = tmp_path / "empty.onnx"
    empty.touch()
    with pytest.raises(ModelError, match=r"empty\.onnx: the file is empty"):
        read_model(empty)
    with pytest.raises(ModelError, match="no such file"):
        read_model(tmp_path / "missing.onnx")


def test_missing_and_short_external_data(tmp_path: Path) -> None:
    path = write_model(models.float_conv(), tmp_path / "ext.onnx", external_data=True, size_threshold=0)
    data = tmp_path / "ext.onnx.data"
    content = data.read_bytes()
    data.write_bytes(content[:100])
    with pytest.raises(ModelError, match=r"ext\.onnx\.data is too short"):
        read_model(path)
    data.unlink()
    with pytest.raises(ModelError, match=r"external-data file 'ext\.onnx\.data' is missing") as info:
        inspect_model(path)
    assert "same folder" in (info.value.hint or "")


def test_write_refuses_to_overwrite_input_and_is_atomic(tmp_path: Path) -> None:
    src = models.save(models.float_conv(), tmp_path / "model.onnx")
    before = sha256(src)
    with pytest.raises(OutputError, match="would overwrite the input model"):
        write_model(read_model(src), src, inputs=(src,))
    assert sha256(src) == before
    out = write_model(read_model(src), tmp_path / "copy.onnx", inputs=(src,))
    assert read_model(out).graph.node[0].name == "conv1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.onnx", "model.onnx"]  # no temporary left


def test_external_data_written_beside_the_model(tmp_path: Path) -> None:
    out = write_model(models.float_conv(), tmp_path / "sub.onnx", external_data=True, size_threshold=0)
    model = read_model(out)
    assert len(model.graph.initializer) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub.onnx", "sub.onnx.data"]


def test_write_to_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        write_model(models.float_conv(), tmp_path / "nope" / "m.onnx")


def test_cli_prints_one_error_line_and_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "corrupt.onnx"
    bad.write_bytes(b"\x08\x07\x12\x04junk" * 3)
    before = sha256(bad)
    assert main(["inspect", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("error: ") and "corrupt.onnx" in err[0]
    assert err[1].startswith("hint: ")
    assert sha256(bad) == before
