"""Activation range search: per tensor the clipping range of least quantization error on the calibration
inputs (min/max is a candidate, so never worse there), kept only when the outputs are closer on check inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import numpy_helper

import models
from onnpu import jsonio
from onnpu.cli import main
from onnpu.model.files import read_model
from onnpu.model.inspection import tensor_infos
from onnpu.quantization.calibration import load_calibration
from onnpu.quantization.config import QuantizeConfig
from onnpu.quantization.pipeline import quantize
from onnpu.quantization.range_search import BINS, _best_range, _Target, search_ranges


def _histogram(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    index = np.clip(((values - lo) / (hi - lo) * BINS).astype(np.int64), 0, BINS - 1)
    return np.bincount(index, minlength=BINS).astype(np.float64)


def test_a_rare_outlier_is_clipped_and_a_uniform_tensor_keeps_its_range() -> None:
    rng = np.random.default_rng(0)
    tailed = rng.laplace(0, 1, 400_000)  # heavy tails: the extremes are rare
    t = _Target("t", "s", "z", 0, 255, float(tailed.min()), float(tailed.max()))
    lo, hi, ratio = _best_range(t, _histogram(tailed, t.lo, t.hi))
    assert 0.9 * t.lo < lo < 0 < hi < 0.9 * t.hi and ratio < 0.9  # both ends at least 10 % in
    flat = rng.uniform(0, 6, 200_000)
    u = _Target("u", "s", "z", 0, 255, 0.0, 6.0)
    assert _best_range(u, _histogram(flat, 0.0, 6.0)) == (0.0, 6.0, 1.0)


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("ranges")
    src = models.classifier()
    path = models.save(src, tmp / "cls.onnx")
    plain = quantize(path, tmp / "plain.onnx", "random", config=QuantizeConfig(rounding="nearest", range_search=False))
    data = load_calibration("random", tensor_infos(src)[0], holdout=0, random_count=32)
    model, report = search_ranges(read_model(tmp / "plain.onnx"), src, data.calibration)
    return {"plain": read_model(tmp / "plain.onnx"), "model": model, "report": report, "result": plain}


def test_same_layout_never_a_worse_tensor_and_kept_only_when_better(searched: dict[str, object]) -> None:
    report, plain, model = searched["report"], searched["plain"], searched["model"]
    assert searched["result"].ranges is None  # type: ignore[attr-defined]
    assert report.tensors and all(t.mse_ratio <= 1.0 for t in report.tensors)  # type: ignore[attr-defined]
    assert [n.op_type for n in plain.graph.node] == [n.op_type for n in model.graph.node]  # type: ignore[attr-defined]
    a = {t.name: numpy_helper.to_array(t) for t in plain.graph.initializer}  # type: ignore[attr-defined]
    b = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}  # type: ignore[attr-defined]
    assert a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and a[k].shape == b[k].shape for k in a)
    before, after = report.check_sqnr  # type: ignore[attr-defined]
    assert report.kept == (after > before)  # type: ignore[attr-defined]
    assert (model is plain) == (not report.kept or report.changed == 0)  # type: ignore[attr-defined]


def test_cli_reports_the_search_and_can_turn_it_off(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = models.save(models.classifier(), tmp_path / "cls.onnx")
    assert main(["quantize", str(src), "-o", str(tmp_path / "q.onnx"), "--calib", "random", "--rounding", "nearest",
                 "--json"]) == 0
    data = jsonio.loads(capsys.readouterr().out)
    assert data["range_search"]["searched"] >= 1 and data["config"]["range_search"] is True
    assert main(["quantize", str(src), "-o", str(tmp_path / "r.onnx"), "--calib", "random", "--rounding", "nearest",
                 "--no-range-search", "--json"]) == 0
    data = jsonio.loads(capsys.readouterr().out)
    assert data["range_search"] is None and data["config"]["range_search"] is False
