"""The bad-input catalogue: every case is one `error:` line (plus a `hint:`), a non-zero exit, no
traceback, and no input file modified. The README's table lists the same cases and messages."""

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
import pytest
from PIL import Image

import models
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


CASES: dict[str, tuple[Setup, str, int]] = {
    "truncated ONNX": (case_truncated_onnx, "not a valid ONNX model (truncated or corrupt", 1),
    "corrupt ONNX": (case_corrupt_onnx, "not a valid ONNX model", 1),
    "0-byte model": (case_empty_onnx, "the file is empty (0 bytes)", 1),
    "missing external data": (case_missing_external_data, "external-data file 'ext.onnx.data' is missing", 1),
    "short external data": (case_short_external_data, "external-data file ext.onnx.data is too short", 1),
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
}


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    setup, message, code = CASES[name]
    argv = setup(tmp_path)
    before = _hashes(tmp_path)
    assert main(argv) == code
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err[0].startswith("error: ") and message in err[0], err
    assert len(err) <= 2 and (len(err) == 1 or err[1].startswith("hint: ")), err
    assert _hashes(tmp_path) == before, "an input file was modified"
    assert not [p for p in tmp_path.rglob(".*.tmp")], "a temporary file was left behind"


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
