"""Where 16 bits hold a detector's boxes, per HTP: nudenet's YOLOv8n (320×320, from the corpus) quantized three
ways — 8-bit activations with the head's outputs at 16 bits (the stage `prepare` takes for it), W8A16 (every
activation 16-bit), and W8A16 with the coarsest level (the activations of the smallest spatial size: stride 32)
kept at 8 bits — and its detections on 20 views of its two held-out photos (each, 4 crops, and their mirror
images: the corpus section's views) against the float model's, on the exact CPU QDQ arithmetic and on each SoC's
NPU (emulated, no CPU fallback). Nearest rounding and min/max ranges on its 7 calibration photos, as `prepare`
measures its stages. For W8A16, `onnpu layers` on one view names the activation whose NPU result departs most
from the CPU's beyond what its inputs already did.

Each SoC runs in a process of its own (a soc_model session changes later sessions of its process):
`python benchmarks/detect_precision.py --one SOC` prints one JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

SOCS = ("qcs6490", "qcs8550")
MODEL = "nudenet_yolov8n"
VARIANTS = ("8-bit, the head's outputs 16-bit", "W8A16", "W8A16, the stride-32 level 8-bit")


def _coarsest(model: Any, names: list[str]) -> list[str]:
    """The activations among ``names`` whose spatial size (last two dims of a 4-D tensor) is the smallest."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in inferred.graph.value_info}
    spatial = {n: tuple(shapes[n][2:]) for n in names if len(shapes.get(n, [])) == 4 and all(shapes[n])}
    smallest = min(h * w for h, w in spatial.values())
    return [n for n, (h, w) in spatial.items() if h * w == smallest]


def measure(soc: str) -> dict[str, Any]:
    import numpy as np
    import onnx
    from corpus_bench import _views

    import corpus
    from onnpu import get_target
    from onnpu.measure.layers.compare import compare_layers
    from onnpu.metrics import sqnr_db
    from onnpu.model.inspection import tensor_infos
    from onnpu.quantization import detection_head as dh
    from onnpu.quantization.calibration import load_calibration
    from onnpu.quantization.config import QuantizeConfig
    from onnpu.quantization.evaluate import run_on_cpu
    from onnpu.quantization.mixed_precision import quantized_activations
    from onnpu.quantization.recipe import quantize_qdq_model
    from onnpu.runtime.feeds import run_feeds
    from onnpu.runtime.session import create_session
    from onnpu.tasks.simplify import simplify
    from onnpu.vision.detection.matching import match_detections

    record = next(r for r in corpus.records() if r["name"] == MODEL)
    held = record["detect_photos"]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        fixed = tmp / "float.onnx"
        simplify(corpus.fetch(record), fixed, shapes=record["shapes"])  # as `prepare` fixes and simplifies it
        float_model = onnx.load(str(fixed))
        head = dh.detection_head_of(float_model)
        assert head is not None
        pre = dh.calibration_preprocess(float_model)
        infos = tensor_infos(float_model)[0]
        calibration = load_calibration(corpus.calibration("images", tmp / "calib", fixed, record), infos,
                                       preprocess=pre, holdout=0).calibration
        views = _views(corpus.copy_photos(held, tmp / "views"))
        feeds = load_calibration(views, infos, preprocess=pre, holdout=0).calibration
        reference_outputs = run_on_cpu(float_model, feeds, exact=False)
        reference = dh.detections_of(head, reference_outputs, len(feeds))
        nearest = QuantizeConfig(rounding="nearest", range_search=False)
        plain = quantize_qdq_model(float_model, calibration, nearest)
        every = quantized_activations(float_model, plain)
        coarse = set(_coarsest(float_model, every))
        models = {VARIANTS[0]: quantize_qdq_model(float_model, calibration, nearest, sixteen_bit=list(head.outputs)),
                  VARIANTS[1]: quantize_qdq_model(float_model, calibration, replace(nearest, activations="u16")),
                  VARIANTS[2]: quantize_qdq_model(float_model, calibration, nearest,
                                                  sixteen_bit=[n for n in every if n not in coarse])}
        target = get_target("npu", soc=soc).with_fallback(False)
        rows = []
        for variant, quant in models.items():
            path = tmp / f"{VARIANTS.index(variant)}.onnx"
            onnx.save(quant, str(path))
            cpu = run_on_cpu(quant, feeds, exact=True)
            found = dh.detections_of(head, cpu, len(feeds))
            row: dict[str, Any] = {"variant": variant, "views": len(feeds),
                                   "float_boxes": sum(len(d.boxes) for d in reference),
                                   "cpu": match_detections(reference, found).to_dict()}
            try:
                npu = run_feeds(create_session(path, target), feeds)
            except Exception as exc:  # a variant this HTP cannot build: its row says why
                row["npu_error"] = str(exc).splitlines()[0][:200]
                rows.append(row)
                continue
            row["npu"] = match_detections(reference, dh.detections_of(head, npu, len(feeds))).to_dict()
            name = head.outputs[0]
            row["npu_vs_cpu_db"] = sqnr_db(np.concatenate(cpu[name]), np.concatenate(npu[name]))
            if variant == VARIANTS[1]:
                layers = compare_layers(None, path, inputs=views, count=1, target=get_target("npu", soc=soc),
                                        preprocess=pre)  # fallback allowed: an op alone may not build
                row["departs"] = _departure(layers)
            rows.append(row)
    return {"soc": soc, "input": list(head.input_size), "rows": rows}


def _departure(result: Any) -> dict[str, Any] | None:
    """The activation whose NPU result loses the most SQNR against the CPU's beyond its inputs' loss."""
    device = {r.name: r.device.sqnr_db for r in result.rows if r.device is not None and r.device.sqnr_db is not None}
    worst: tuple[float, Any] | None = None
    for r in result.rows:
        if r.name not in device:
            continue
        before = min((device[i] for i in r.inputs if i in device), default=None)
        drop = (before - device[r.name]) if before is not None else 0.0
        if worst is None or drop > worst[0]:
            worst = (drop, r)
    if worst is None:
        return None
    row = worst[1]
    return {"tensor": row.name, "op": row.op, "shape": row.shape, "npu_db": device[row.name],
            "inputs_db": device[row.name] + worst[0], "alone_max_steps": row.device.alone_max_steps}


def _boxes(stats: dict[str, Any], side: int) -> str:
    error = stats["median_box_error_px"]
    return (f"{stats['matched']} / {stats['missed']} / {stats['extra']} | "
            + ("-" if error is None else f"{error * 640 / side:.2f}"))


def detect_precision_section(model: object, quick: bool) -> list[str]:
    from onnpu.runtime.socs import find_soc

    results = []
    for soc in SOCS:
        done = subprocess.run([sys.executable, __file__, "--one", soc], capture_output=True, text=True,
                              timeout=1800)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
            results.append({"soc": soc, "rows": [], "error": f"exit {done.returncode}: {tail}"})
            continue
        results.append(json.loads(lines[-1]))
    table = ["| SoC | activations | CPU QDQ: matched / missed / extra | median px at 640 | NPU: matched / missed / "
             "extra | median px at 640 | NPU vs CPU, dB |", "|---|---|---|---|---|---|---|"]
    notes = []
    for r in results:
        info = find_soc(r["soc"])
        soc = f"{info.name} (HTP v{info.htp_arch})"
        if r.get("error"):
            table.append(f"| {soc} | failed: {r['error']} | | | | | |")
        side = max(r.get("input") or [640])
        for row in r["rows"]:
            npu = (f"not built: {row['npu_error']} | |" if "npu_error" in row else _boxes(row["npu"], side))
            db = f"{row['npu_vs_cpu_db']:.1f}" if row.get("npu_vs_cpu_db") is not None else "-"
            table.append(f"| {soc} | {row['variant']} | {_boxes(row['cpu'], side)} | {npu} | {db} |")
            d = row.get("departs")
            if d:
                notes.append(f"{soc}, W8A16: the NPU departs most at `{d['tensor']}` ({d['op']}, {d['shape']}): "
                             f"{d['npu_db']:.1f} dB against the CPU where its inputs are at {d['inputs_db']:.1f} dB; "
                             f"the op alone, fed the CPU's inputs: {d['alone_max_steps']} steps at most.")
    views, boxes = next(((row["views"], row["float_boxes"]) for r in results for row in r["rows"]), (0, 0))
    return ["## Detection: where 16 bits hold the boxes, per HTP (nudenet's YOLOv8n)", "",
            f"{MODEL} quantized three ways (nearest rounding, min/max ranges, its 7 calibration photos), its "
            f"detections on {views} views of its two held-out photos ({boxes} float boxes) against the float "
            "model's, on the exact CPU QDQ arithmetic and on each SoC's NPU (emulated, no CPU fallback). The box "
            "error is the largest of a box's four coordinate differences, at 640 input. `NPU vs CPU`: the output "
            "on the NPU against the same model's CPU QDQ arithmetic.", "", *table, "",
            *[f"- {n}" for n in notes], *([""] if notes else [])]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(measure(sys.argv[2])))
    else:
        print("\n".join(detect_precision_section(None, False)))
