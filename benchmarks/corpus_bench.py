"""Corpus section of BENCHMARKS.md: every real model of the corpus (tests/corpus.json) prepared for QCS6490 and
QCS8550 as a user would (`onnpu prepare` with its defaults and inputs of the model's kind: photos, tones, sentences,
...), then run on each SoC's NPU (the emulated HTP, CPU fallback disabled) on the held-out inputs prepare did not
calibrate on: nodes on the NPU, the quality of the CPU QDQ arithmetic and of the NPU against the float model (SQNR
of the worst output), the task figure on the NPU, and the time prepare took.

Each (model, SoC) runs in a process of its own (a real model may crash ONNX Runtime; a soc_model session changes
later sessions of its process): `python benchmarks/corpus_bench.py --one NAME --soc SOC` prints one JSON line."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import corpus  # noqa: E402

SOCS = ("qcs6490", "qcs8550")
TIMEOUT = 1800
STORE = HERE / "results" / "corpus"  # one JSON per (model, SoC): the table is made from them


def measure(name: str, soc: str) -> dict[str, Any]:
    """prepare NAME for SOC and compare float, CPU QDQ and NPU on the held-out inputs."""
    import numpy as np
    import onnx

    from onnpu import get_target
    from onnpu.errors import OnnpuError
    from onnpu.metrics import compare_outputs
    from onnpu.model.graphs import integer_input_ranges
    from onnpu.model.inspection import tensor_infos
    from onnpu.quantization import detection_head
    from onnpu.quantization.calibration import load_calibration
    from onnpu.quantization.evaluate import run_on_cpu
    from onnpu.runtime.feeds import run_feeds
    from onnpu.runtime.session import create_session
    from onnpu.tasks.prepare import prepare
    from onnpu.tasks.simplify import simplify
    from onnpu.vision.detection.matching import match_detections
    from onnpu.vision.preprocess import input_layout, preprocess_for

    record = next(r for r in corpus.records() if r["name"] == name)
    model = corpus.fetch(record)
    shapes, values = record["shapes"] or None, record["values"] or None
    entry: dict[str, Any] = {"name": name, "soc": soc}
    with tempfile.TemporaryDirectory() as tmp:
        calib = corpus.calibration(record["calibration"], Path(tmp) / "calib", model, record)
        out = Path(tmp) / f"{name}.{soc}.onnx"
        target = get_target("npu", soc=soc)
        start = time.perf_counter()
        try:
            result = prepare(model, out, calib, shapes=shapes, values=values,
                             preprocess=corpus.preprocess_config(record), target=target)
        except OnnpuError as exc:
            entry.update(prepare_s=time.perf_counter() - start, error=str(exc).splitlines()[0][:300])
            return entry
        entry["prepare_s"] = time.perf_counter() - start
        assert result.quantization is not None and result.npu is not None
        entry["activations"] = result.quantization.config.activations
        entry["sixteen_bit"] = len(result.quantization.sixteen_bit)  # raised beyond the type (a detector's stages)
        entry["placement"] = result.npu.placement.headline().split(" (")[0]
        entry["on_npu"] = result.npu.placement.on_target
        entry["nodes"] = sum(1 for n in result.npu.placement.nodes if n.provider is not None)
        # the held-out inputs prepare did not calibrate on (same split: same source, seed and holdout)
        simplify(model, Path(tmp) / "float.onnx", shapes=shapes, values=values)
        float_model = onnx.load(str(Path(tmp) / "float.onnx"))
        data = load_calibration(calib, tensor_infos(float_model)[0],
                                preprocess=preprocess_for(float_model, corpus.preprocess_config(record)),
                                ranges=integer_input_ranges(float_model))
        feeds = (data.heldout or data.calibration)[:6]
        reference = run_on_cpu(float_model, feeds, exact=False)
        cpu = run_on_cpu(onnx.load(str(out)), feeds, exact=True)
        npu = run_feeds(create_session(out, target.with_fallback(False)), feeds)
        names = [n for n in reference if n in npu]
        entry["held_out"] = len(feeds)
        entry["cpu_db"] = min(compare_outputs(n, reference[n], cpu[n]).sqnr_db for n in names)
        entry["npu_db"] = min(compare_outputs(n, reference[n], npu[n]).sqnr_db for n in names)
        task = record.get("task", "values")
        head = detection_head.detection_head_of(float_model)
        shown = head.layout.get("scores", names[0]) if head is not None else names[0]  # a detector: its scores
        label, value = corpus.task_figure(task, reference[shown], npu[shown], feeds)
        entry["task"] = label
        entry["task_npu"] = value
        entry["task_cpu"] = corpus.task_figure(task, reference[shown], cpu[shown], feeds)[1]
        entry["finite"] = bool(all(np.isfinite(np.stack(npu[n])).all() for n in names))
        if head is not None:  # a detector: its detections on the NPU and on the CPU QDQ against the float model's
            if record.get("detect_photos"):  # photos with what it detects, held out of its calibration
                photos = _views(corpus.copy_photos(record["detect_photos"], Path(tmp) / "detect"))
                feeds = load_calibration(photos, tensor_infos(float_model)[0], holdout=0,
                                         preprocess=preprocess_for(float_model, corpus.preprocess_config(record)),
                                         ranges=integer_input_ranges(float_model)).calibration
            else:  # the held-out inputs and their mirror images
                layout, _, _ = input_layout(tensor_infos(float_model)[0][0])
                width = 3 if layout == "NCHW" else 2
                feeds = [*feeds, *({n: np.ascontiguousarray(np.flip(v, width)) for n, v in f.items()} for f in feeds)]
            reference = run_on_cpu(float_model, feeds, exact=False)
            cpu = run_on_cpu(onnx.load(str(out)), feeds, exact=True)
            npu = run_feeds(create_session(out, target.with_fallback(False)), feeds)
            wanted = detection_head.detections_of(head, reference, len(feeds))
            entry["detection"] = {"head": head.kind, "input": list(head.input_size), "inputs": len(feeds),
                                  "boxes": sum(len(d.boxes) for d in wanted),
                                  **{side: match_detections(wanted, detection_head.detections_of(
                                      head, outputs, len(feeds))).to_dict() for side, outputs in (("npu", npu),
                                                                                                 ("cpu", cpu))}}
    return entry


CROPS = 4  # per photo, for the detection comparison: boxes at other sizes and places


def _views(folder: Path, seed: int = 0) -> Path:
    """Each photo of ``folder`` joined by its mirror image and ``CROPS`` random crops (half to nine tenths of each
    side) and their mirrors: more boxes, at other scales and places, than the photos alone give."""
    import numpy as np
    from PIL import Image, ImageOps

    rng = np.random.default_rng(seed)
    for path in sorted(folder.iterdir()):
        with Image.open(path) as opened:
            img = opened.convert("RGB")
        views = [img]
        for _ in range(CROPS):
            w, h = (int(side * rng.uniform(0.5, 0.9)) for side in img.size)
            x, y = int(rng.integers(0, img.width - w + 1)), int(rng.integers(0, img.height - h + 1))
            views.append(img.crop((x, y, x + w, y + h)))
        for k, view in enumerate(views):
            if k:
                view.save(folder / f"{path.stem}-crop{k}.png")
            ImageOps.mirror(view).save(folder / f"{path.stem}-{k}-mirror.png")
    return folder


def _run_one(name: str, soc: str) -> dict[str, Any]:
    """Measure in a process of its own and store the result."""
    command = [sys.executable, __file__, "--one", name, "--soc", soc]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        entry = {"name": name, "soc": soc, "error": f"over {TIMEOUT} s"}
    else:
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
            entry = {"name": name, "soc": soc, "error": f"exit {done.returncode}: {tail}"}
        else:
            entry = dict(json.loads(lines[-1]))
    STORE.mkdir(parents=True, exist_ok=True)
    (STORE / f"{name}.{soc}.json").write_text(json.dumps(entry, indent=1) + "\n")
    return entry


def _db(value: float | None) -> str:
    return "-" if value is None else ("∞" if value == float("inf") else f"{value:.1f}")


def corpus_section(model: Any, quick: bool, only: set[str] | None = None) -> list[str]:
    """Measure every model (``only``: these, the others from their stored results) and make the table."""
    del model, quick  # the corpus, not the built-in model; one prepare per model and SoC either way
    records = corpus.records()
    lines = ["## The corpus on the NPU (`onnpu prepare` per SoC, defaults)", "",
             f"Each of the {len(records)} real models of `tests/corpus.json` prepared as a user would (`onnpu prepare` "
             "with its defaults: W8A8, W8A16 for transformer encoders, optimised rounding) with inputs of its kind "
             "(photos shipped by scikit-image/matplotlib, strips of a scanned page, tone clips, real sentences "
             "tokenized with the model's tokenizer, bytes of real files), for QCS6490 (HTP v68) and QCS8550 (v73), "
             "then run on that SoC's NPU (emulated, CPU fallback disabled) on up to 6 held-out inputs: nodes on the "
             "NPU, SQNR of the worst output against the float model on the CPU QDQ arithmetic (exact) and on the NPU, "
             "the task figure on the NPU (and on the CPU QDQ), prepare's time.", "",
             "| model | kind | SoC | on the NPU | act. | CPU QDQ dB | NPU dB | task: NPU (CPU QDQ) | prepare s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for record in records:
        for soc in SOCS:
            stored = STORE / f"{record['name']}.{soc}.json"
            if only is not None and record["name"] not in only:
                r = json.loads(stored.read_text()) if stored.is_file() else \
                    {"name": record["name"], "soc": soc, "missing": True}
            else:
                r = _run_one(record["name"], soc)
            kind = record["kind"].split(" (")[0]
            if r.get("missing"):
                lines.append(f"| {record['name']} | {kind} | {soc.upper()} | not measured in this run | | | | | |")
                continue
            if "error" in r:
                error = re.sub(r"^\S+\.onnx: ", "", r["error"]).replace("|", "/")
                lines.append(f"| {record['name']} | {kind} | {soc.upper()} | not prepared: {error} | | | | | "
                             f"{r.get('prepare_s', 0):.0f} |")
                continue
            lines.append(f"| {record['name']} | {kind} | {soc.upper()} | {r['on_npu']} of {r['nodes']} | "
                         f"{_activations(r)} | {_db(r['cpu_db'])} | {_db(r['npu_db'])} | {r['task']} "
                         f"{r['task_npu']:.3f} ({r['task_cpu']:.3f}) | {r['prepare_s']:.0f} |")
            print(lines[-1], flush=True)
    return [*lines, "", *_detection_table(records)]


def _activations(r: dict[str, Any]) -> str:
    """The activation type, and how many activations a recipe raised to 16 bits beyond it."""
    raised = r.get("sixteen_bit") or 0
    return r["activations"] + (f" + {raised} at u16" if r["activations"] == "u8" and raised else "")


def _boxes(stats: dict[str, Any], size: list[int]) -> str:
    error = stats["median_box_error_px"]
    at_640 = "" if error is None else f" ({error * 640 / max(size):.2f} at 640)"
    return (f"{stats['matched']}/{stats['missed']}/{stats['extra']} | "
            + ("-" if error is None else f"{error:.2f}{at_640}"))


def _detection_table(records: list[dict[str, Any]]) -> list[str]:
    """The detectors of the table, in boxes: the prepared model's detections (score ≥ 0.25, NMS) against the float
    model's on the same held-out inputs."""
    rows = []
    for record in records:
        for soc in SOCS:
            stored = STORE / f"{record['name']}.{soc}.json"
            r = json.loads(stored.read_text()) if stored.is_file() else {}
            d = r.get("detection")
            if d:
                rows.append(f"| {record['name']} | {soc.upper()} | {d['head']} | {d['input'][1]}x{d['input'][0]} | "
                            f"{d.get('inputs', r['held_out'])} | {d['boxes']} | {_boxes(d['npu'], d['input'])} | "
                            f"{_boxes(d['cpu'], d['input'])} |")
    if not rows:
        return []
    return ["Detectors of the table, in boxes: the prepared model's detections (score ≥ 0.25, class-aware NMS) "
            "against the float model's on the same held-out inputs and their mirror images (or, where the record "
            "names `detect_photos`, on those — photos showing what the model detects, never calibrated on — each "
            f"with {CROPS} random crops and the mirror images of all), matched box by box (same class, IoU ≥ 0.5); "
            "box error = the largest of a pair's four coordinate differences, in input pixels (and scaled to a "
            "640 input).", "",
            "| model | SoC | head | input | inputs | float boxes | NPU matched/missed/extra | NPU median box "
            "error px | CPU QDQ matched/missed/extra | CPU QDQ median box error px |",
            "|---|---|---|---|---|---|---|---|---|---|", *rows, ""]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--one", help="one model by name (prints its JSON line)")
    parser.add_argument("--soc", choices=SOCS, default=SOCS[0])
    parser.add_argument("--models", help="re-measure only these (comma-separated); the others are taken from "
                                         "benchmarks/results/corpus/")
    parser.add_argument("--table", action="store_true", help="measure nothing: the table from the stored results")
    args = parser.parse_args()
    if args.one:
        sys.path.insert(0, str(HERE.parent / "src"))
        from onnpu import jsonio

        print(jsonio.dumps(measure(args.one, args.soc), indent=None), flush=True)  # strict: a non-finite dB is null
        return 0
    only = set() if args.table else set(args.models.split(",")) if args.models else None
    start = time.perf_counter()
    body = corpus_section(None, False, only)
    from run import RESULTS, assemble, machine_line

    command = "python benchmarks/corpus_bench.py" + (f" --models {args.models}" if args.models else "")
    note = (f"<sub>`{command}` on {machine_line()}, each model and SoC in a process of its own (stored in "
            f"`benchmarks/results/corpus/`); took {time.perf_counter() - start:.0f} s.</sub>")
    (RESULTS / "corpus.md").write_text("\n".join([*body, note, ""]))
    assemble(HERE.parent / "BENCHMARKS.md")
    print("\n".join(body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
