from __future__ import annotations

from pathlib import Path

import pytest

import models
from onnpu import get_target, jsonio
from onnpu.cli import main
from onnpu.measure.profile import profile


def test_cpu_profile_rows_cover_the_run(tmp_path: Path) -> None:
    src = models.save(models.float_conv(size=64, hidden=32), tmp_path / "conv.onnx")
    result = profile(src, get_target("cpu"), iterations=5, out_dir=tmp_path / "prof")
    assert {r.op_type for r in result.rows} >= {"Conv"}
    assert all(r.provider == "CPUExecutionProvider" for r in result.rows)
    assert abs(sum(r.share for r in result.rows) - 1) < 1e-6
    assert result.rows_total_us > 0 and len(result.wall_ms) == 5
    assert Path(result.raw_files[0]).parent == tmp_path / "prof"


@pytest.mark.npu
def test_npu_profile_breaks_the_partition_into_ops(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = models.save(models.qdq_conv(), tmp_path / "qdq.onnx")
    assert main(["profile", str(src), "--target", "npu", "-n", "3", "--out", str(tmp_path / "p"), "--json"]) == 0
    data = jsonio.loads(capsys.readouterr().out)
    qnn_rows = [r for r in data["rows"] if r["provider"] == "QNNExecutionProvider"]
    assert any(r["op_type"] == "Conv" and r["name"] == "conv" and r["cycles"] > 0 for r in qnn_rows)
    assert (tmp_path / "p" / "qnn_profile.csv").exists()
    assert data["accelerator_us"] > 0


@pytest.mark.npu
@pytest.mark.zoo
def test_default_model_profile_sums_to_the_measured_total(zoo_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = profile(zoo_model.quantized_model, get_target("npu", allow_fallback=False), iterations=2,
                     out_dir=tmp_path / "p")
    conv = [r for r in result.rows if r.op_type == "Conv"]
    assert len(conv) == 49
    coverage = result.rows_total_us / 1000 / result.median_wall_ms
    assert 0.9 <= coverage <= 1.1, coverage


def test_a_model_that_cannot_be_profiled_leaves_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """The default folder (./onnpu-profile-<model>) is made only for a model that runs: a missing file, a file that
    is not ONNX and a model the CPU refuses each exit 1 naming the file, with nothing written."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    refused = models.save(models.float_conv(size=16, hidden=4), tmp_path / "refused.onnx")
    raw = refused.read_bytes()
    refused.write_bytes(raw.replace(b"Conv", b"Cnov"))  # an operator no provider has
    for name in ("missing.onnx", "broken.onnx", "refused.onnx"):
        assert main(["profile", name, "--target", "cpu"]) == 1, name
        assert name in capsys.readouterr().err
        assert not list(tmp_path.glob("onnpu-profile-*")), name
