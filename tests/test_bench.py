from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from onnx import numpy_helper

import models
from onnpu import get_target, jsonio
from onnpu.cli import main
from onnpu.measure.bench import LatencyStats, benchmark
from onnpu.measure.compare import compare
from onnpu.measure.report import write_report
from onnpu.quantization.pipeline import quantize
from onnpu.runtime import context_cache
from onnpu.runtime.session import create_session

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


def test_latency_stats() -> None:
    s = LatencyStats.of([1.0, 2.0, 3.0, 4.0, 100.0])
    assert (s.min, s.p50, s.max, s.samples) == (1.0, 3.0, 100.0, 5)
    assert s.mean == pytest.approx(22.0) and s.throughput == pytest.approx(1000 / 22.0)
    assert s.p90 > s.p50 and s.p99 > s.p95


def test_two_models_interleaved_with_drift(tmp_path: Path) -> None:
    src = models.save(models.classifier(), tmp_path / "cls.onnx")
    quantize(src, tmp_path / "q.onnx", "random")
    result = benchmark([(src, get_target("cpu")), (tmp_path / "q.onnx", get_target("cpu"))], iterations=7,
                       warmup=1)
    assert [len(r.latencies_ms) for r in result.runs] == [7, 7]
    assert all((r.session_cold_s or 0) > 0 and (r.first_run_ms or 0) > 0 and r.cache == "off" for r in result.runs)
    # interleaved: in time order the runs alternate round by round, and who goes first rotates
    timeline = sorted((t, r.label) for r in result.runs for t in r.starts_ms)
    rounds = [[label for _, label in timeline[i:i + 2]] for i in range(0, len(timeline), 2)]
    assert all(sorted(pair) == ["cls.onnx @ cpu", "q.onnx @ cpu"] for pair in rounds)
    assert [pair[0] for pair in rounds] == ["cls.onnx @ cpu", "q.onnx @ cpu"] * 3 + ["cls.onnx @ cpu"]
    [drift] = result.drift
    assert drift.reference == "cls.onnx @ cpu" and drift.label == "q.onnx @ cpu"
    assert drift.outputs[0].top1_agreement is not None and drift.outputs[0].sqnr_db > 10
    data = jsonio.loads(jsonio.dumps(result))
    assert data["schema"] == "onnpu.bench/1" and [len(r["starts_ms"]) for r in data["runs"]] == [7, 7]


@pytest.mark.npu
def test_an_impossible_cell_is_reported_in_its_row_and_the_rest_runs(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A float model on QCS6490's NPU with CPU fallback disabled cannot run: its row says why, the three other
    cells are measured, and the exit code says some cells failed (5)."""
    flt = models.save(models.float_conv(), tmp_path / "float.onnx")
    qdq = models.save(models.qdq_conv(), tmp_path / "qdq.onnx")
    args = ["bench", str(flt), str(qdq), "--target", "cpu,npu", "-n", "2", "--no-fallback"]
    assert main([*args, "--json"]) == 5
    captured = capsys.readouterr()
    runs = {r["label"]: r for r in jsonio.loads(captured.out)["runs"]}
    failed = runs.pop("float.onnx @ npu")
    assert "float op: this HTP computes no float" in failed["error"] and failed["stats"] is None
    assert "onnpu prepare" in failed["hint"]
    assert sorted(runs) == ["float.onnx @ cpu", "qdq.onnx @ cpu", "qdq.onnx @ npu"]
    assert all(r["error"] is None and len(r["latencies_ms"]) == 2 for r in runs.values())
    assert main(args) == 5
    assert "float.onnx @ npu: did not run: " in capsys.readouterr().out


@pytest.mark.npu
def test_cpu_and_npu_side_by_side_with_cache(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = models.save(models.qdq_conv(), tmp_path / "qdq.onnx")
    code = main(["bench", str(src), "--target", "cpu,npu", "-n", "4", "--json", "--report", str(tmp_path / "rep")])
    assert code == 0
    data = jsonio.loads(capsys.readouterr().out)
    cpu, npu = data["runs"]
    assert cpu["label"].endswith("@ cpu") and npu["label"].endswith("@ npu")
    for key in ("mean", "std", "min", "p50", "p90", "p95", "p99", "max", "throughput"):
        assert npu["stats"][key] > 0
    assert npu["cache"] in ("built", "rebuilt") and npu["session_cached_s"] > 0
    # fallback allowed (bench's default): the graph-input Q runs on the CPU by design, every other node on the NPU
    assert npu["placement"] == (f"7 of 8 nodes on the NPU ({get_target('npu').hardware}), 1 partition; "
                                "1 I/O (de)quantization node on the CPU by design")
    assert data["drift"][0]["reference"].endswith("@ cpu")
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == ["latency.png", "report.html", "report.json",
                                                                     "report.md"]
    assert main(["bench", str(src), "--target", "npu", "-n", "2", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 1 and float(rows[0]["session_cached_s"]) > 0


@pytest.mark.npu
def test_context_cache_keyed_by_options_and_invalidated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    context_cache.clear()
    src = models.save(models.qdq_conv(), tmp_path / "qdq.onnx")
    x = {"x": np.random.default_rng(0).random((1, 3, 16, 16), dtype=np.float32)}
    first, state = context_cache.cached_session(src, get_target("npu"))
    assert state == "built"
    hit, state = context_cache.cached_session(src, get_target("npu"))
    assert state == "hit"
    assert hit.placement is not None and hit.placement.total == 8  # the placement recorded at compile time
    first_out = first.run(x)[0]
    np.testing.assert_array_equal(first_out, hit.run(x)[0])
    _, state = context_cache.cached_session(src, get_target("npu", {"htp_arch": "73"}))
    assert state == "built"  # other provider options: not reused
    assert len(context_cache.list_entries()) == 2
    # a broken cache file is detected and rebuilt, never loaded blindly
    key, _ = context_cache.cache_key(src, get_target("npu"), None)
    (context_cache.contexts_dir() / key / context_cache.CTX_NAME).write_bytes(b"garbage")
    _, state = context_cache.cached_session(src, get_target("npu"))
    assert state == "rebuilt"
    # a changed model (other weights, same path) gets a new key: its own compiled context, never the old one
    old_key = key
    changed = models.qdq_conv()
    weights = next(t for t in changed.graph.initializer if t.name == "w_q")  # the int8 conv weights
    values = numpy_helper.to_array(weights).copy()
    values.flat[: values.size // 2] *= -1
    weights.CopyFrom(numpy_helper.from_array(values, weights.name))
    models.save(changed, tmp_path / "qdq.onnx")
    new_key, _ = context_cache.cache_key(src, get_target("npu"), None)
    assert new_key != old_key
    fresh, state = context_cache.cached_session(src, get_target("npu"))
    assert state == "built"
    exact = create_session(src, get_target("cpu"), optimization="disabled").run(x)[0]
    assert not np.array_equal(fresh.run(x)[0], first_out)  # not the old model's context
    np.testing.assert_allclose(fresh.run(x)[0], exact, atol=0.02 + 1e-6)  # within one output step
    again, state = context_cache.cached_session(src, get_target("npu"))
    assert state == "hit"
    np.testing.assert_array_equal(again.run(x)[0], fresh.run(x)[0])
    assert main(["cache", "list", "--json"]) == 0
    assert len(jsonio.loads(capsys.readouterr().out)["contexts"]) == 3
    assert main(["cache", "clear"]) == 0
    assert context_cache.list_entries() == []


@pytest.mark.npu
def test_compare_one_model_on_two_targets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = models.save(models.qdq_conv(), tmp_path / "qdq.onnx")
    result = compare((src, get_target("cpu")), (src, get_target("npu")), count=3)
    assert result.samples == 3 and result.outputs[0].sqnr_db > 10
    assert main(["compare", str(src), "--count", "2", "--json"]) == 0
    assert jsonio.loads(capsys.readouterr().out)["candidate"].startswith("qdq.onnx @ npu (QCS6490 HTP v68")


def test_compare_two_models_on_images(tmp_path: Path, photos: dict[str, Path]) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name, path in photos.items():
        shutil.copy(path, folder / f"{name}{path.suffix}")
    src = models.save(models.classifier(), tmp_path / "cls.onnx")
    twin = models.save(models.classifier(uint8_io=True), tmp_path / "u8.onnx")
    result = compare((src, get_target("cpu")), (twin, get_target("cpu")), inputs=folder, count=10)
    assert result.samples == len(photos)
    [logits] = result.outputs
    assert logits.name == "logits ↔ logits_u8" and logits.top1_agreement == 1.0


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_html_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        if os.environ.get("ONNPU_REQUIRE_CHROMIUM") == "1":  # .ci/run installed it: it must be found
            pytest.fail("ONNPU_REQUIRE_CHROMIUM=1 but no chromium on PATH", pytrace=False)
        pytest.skip("Debian chromium is not installed (.ci/run installs it)")
    src = models.save(models.classifier(), tmp_path / "cls.onnx")
    result = benchmark([(src, get_target("cpu"))], iterations=5)
    page = write_report(result, tmp_path / "report")[-1]
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'chromium'}"]
    dom = subprocess.run([browser, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert "onnpu bench report" in dom and "cls.onnx @ cpu" in dom and "data:image/png;base64" in dom
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    done = subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1280,1200", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    assert "Uncaught" not in done.stderr
    assert shot.stat().st_size > 10_000


def test_a_reference_with_nan_outputs_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Drift against a reference whose outputs are NaN would be numbers about nothing (top-1 agreement 0.0): refused
    in one line, as compare and layers refuse it."""


    model = models.float_conv()
    broken = models.float_conv()
    weight = broken.graph.initializer[0]
    weight.CopyFrom(numpy_helper.from_array(np.full(numpy_helper.to_array(weight).shape, np.nan, np.float32),
                                            weight.name))
    good, bad = models.save(model, tmp_path / "m.onnx"), models.save(broken, tmp_path / "nan.onnx")
    assert main(["bench", str(good), "--target", "cpu", "-n", "2", "--reference", str(bad), "--json"]) == 1
    said = jsonio.loads(capsys.readouterr().out)
    assert "(the reference): output" in said["error"]
    assert f"the model's constant {weight.name!r} itself holds NaN or Inf" in said["hint"]  # not the inputs' range


def test_models_of_other_inputs_each_get_their_own_random_data(tmp_path: Path) -> None:
    """Random data is shared where it fits (so drift compares like with like); a model whose inputs differ (another
    size, another dtype) is measured on random data of its own, said in a note, and given no drift."""
    small = models.save(models.float_conv(size=16), tmp_path / "small.onnx")
    large = models.save(models.float_conv(size=32), tmp_path / "large.onnx")
    twin = tmp_path / "twin.onnx"
    shutil.copy(small, twin)
    cpu = get_target("cpu")
    result = benchmark([(small, cpu), (large, cpu), (twin, cpu)], iterations=2, warmup=0)
    assert not result.failed and [len(r.latencies_ms) for r in result.runs] == [2, 2, 2]
    [note] = result.notes
    assert note.startswith("large.onnx: fed random inputs of its own (seed 0): small.onnx's do not fit it (input "
                           "'x' has shape [1, 3, 16, 16], the model expects [1, 3, 32, 32])")
    assert [(d.reference, d.label) for d in result.drift] == [("small.onnx @ cpu", "twin.onnx @ cpu")]
    assert result.drift[0].outputs[0].max_abs_error == 0
    given = benchmark([(small, cpu), (large, cpu)], iterations=1, warmup=0,  # the user's data: never replaced
                      inputs={"x": np.zeros((1, 3, 16, 16), np.float32)})
    [failed] = given.failed
    assert failed.label == "large.onnx @ cpu" and "has shape [1, 3, 16, 16], the model expects" in (failed.error or "")
