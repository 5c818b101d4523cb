"""`make bench`: measure what BENCHMARKS.md reports, on this machine, side by side in one run.

Every number is a median (or a ratio of medians measured interleaved); the command that made them is
written at the top of the file.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent))

from onnpu import get_target, zoo
from onnpu.benchmark import benchmark
from onnpu.calibration import load_calibration
from onnpu.inspection import tensor_infos
from onnpu.modelio import read_model
from onnpu.preprocess import config_from_metadata
from onnpu.quantization import QuantizeConfig
from onnpu.quantizing import quantize
from onnpu.session import create_session
from onnpu.targets import qnn_status
from onnpu.zoo.photos import write_crops

SESSION_PROBE = """
import sys, time, json
from onnpu import get_target
from onnpu.context_cache import cached_session
from onnpu.session import create_session
model, mode = sys.argv[1], sys.argv[2]
target = get_target("npu")
start = time.perf_counter()
if mode == "cold":
    create_session(model, target)
else:
    _, state = cached_session(model, target)
    assert state == "hit", state
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def overhead(model: Path, rounds: int, block: int) -> dict[str, float]:
    """onnpu's call path (LoadedSession.run) vs a bare InferenceSession.run loop on the same session,
    interleaved in blocks; medians of per-call times."""
    loaded = create_session(model, get_target("cpu"))
    info = tensor_infos(loaded.proto)[0][0]
    x = {info.name: np.random.default_rng(0).random([int(d) for d in info.shape], dtype=np.float32)}
    bare, ours = [], []
    sess = loaded.session
    for _ in range(3):
        sess.run(None, x)
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(block):
            sess.run(None, x)
        bare.append((time.perf_counter() - t0) / block)
        t0 = time.perf_counter()
        for _ in range(block):
            loaded.run(x)
        ours.append((time.perf_counter() - t0) / block)
    b, o = statistics.median(bare) * 1000, statistics.median(ours) * 1000
    return {"bare_ms": b, "onnpu_ms": o, "overhead": o / b - 1}


def session_times(model: Path, repeats: int) -> dict[str, float]:
    """NPU session creation in fresh processes: cold compile vs cached context, alternating."""
    def probe(mode: str) -> float:
        out = subprocess.run([sys.executable, "-c", SESSION_PROBE, str(model), mode], capture_output=True,
                             text=True, check=True).stdout
        return float(json.loads(out.strip().splitlines()[-1])["seconds"])

    from onnpu.context_cache import cached_session

    cached_session(model, get_target("npu"))  # make sure the cache exists
    cold, cached = [], []
    for _ in range(repeats):
        cold.append(probe("cold"))
        cached.append(probe("cached"))
    return {"cold_s": statistics.median(cold), "cached_s": statistics.median(cached),
            "speedup": statistics.median(cold) / statistics.median(cached)}


def quality_table(float_model: Path, crops: Path) -> tuple[list[dict[str, object]], dict[str, object]]:
    """Issue-4 recipes and issue-9 rounding on the same calibration / held-out split (by photo)."""
    proto = read_model(float_model, load_external_data=False)
    pre = config_from_metadata({m.key: m.value for m in proto.metadata_props})
    data = load_calibration(crops, tensor_infos(proto)[0], preprocess=pre, holdout=0.25, seed=0)
    rows = []
    recipes = [
        ("W8A8 per-tensor u8 weights, nearest", QuantizeConfig("u8", "u8", False, rounding="nearest"), None),
        ("W8A8 ONNX Runtime QNN recipe = onnpu nearest", QuantizeConfig(rounding="nearest"), None),
        ("W8A8 onnpu optimized rounding (default)", QuantizeConfig(rounding="optimized"), None),
        ("W8A16 ONNX Runtime QNN recipe = onnpu nearest", QuantizeConfig("u16", rounding="nearest"), None),
        ("W8A16 onnpu optimized rounding", QuantizeConfig("u16", rounding="optimized"), None),
        ("mixed u8/u16 --target-sqnr 25, optimized rounding", QuantizeConfig(rounding="optimized"), 25.0),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for name, config, target in recipes:
            t0 = time.perf_counter()
            r = quantize(float_model, Path(tmp) / "q.onnx", data, config=config, target_sqnr=target, force=True,
                         jobs=2)
            q = r.quality[0]
            rows.append({"recipe": name, "sqnr_db": q.sqnr_db, "top1": q.top1_agreement, "top5": q.top5_overlap,
                         "seconds": time.perf_counter() - t0, "mb": (Path(tmp) / "q.onnx").stat().st_size / 1e6,
                         "sixteen_bit": len(r.sixteen_bit)})
    split = {"calib": len(data.calibration), "heldout": len(data.heldout),
             "photos": sorted({n.split("/")[0] for n in data.heldout_names})}
    return rows, split


def other_models() -> list[str]:
    """Optimised rounding on the other models the project prepares (no regression check)."""
    import importlib.util

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import models

    lines = ["| model | calibration | nearest SQNR dB | optimized SQNR dB |", "|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        cases: list[tuple[str, Path, str, dict[str, object]]] = [
            ("tests: layer zoo (Conv, grouped, depthwise, ConvTranspose, MatMul, Gemm)",
             models.save(models.layer_zoo(), Path(tmp) / "zoo.onnx"), "random", {}),
            ("tests: classifier", models.save(models.classifier(), Path(tmp) / "cls.onnx"), "random", {})]
        spec = importlib.util.find_spec("rapidocr_onnxruntime")
        if spec and spec.submodule_search_locations:
            from onnpu.shapes import fix_shapes

            det = Path(spec.submodule_search_locations[0]) / "models" / "ch_PP-OCRv4_det_infer.onnx"
            fixed = Path(tmp) / "det.onnx"
            fix_shapes(det, fixed, shapes={"x": [1, 3, 640, 640]})
            cases.append(("PP-OCRv4 detector 1x3x640x640", fixed, "random", {"limit": 12}))
        for name, path, calib, extra in cases:
            near = quantize(path, Path(tmp) / "n.onnx", calib, config=QuantizeConfig(rounding="nearest"),
                            holdout=0.25, **extra)  # type: ignore[arg-type]
            opt = quantize(path, Path(tmp) / "o.onnx", calib, config=QuantizeConfig(rounding="optimized"),
                           holdout=0.25, **extra)  # type: ignore[arg-type]
            lines.append(f"| {name} | {calib} | {near.worst_sqnr:.2f} | {opt.worst_sqnr:.2f} |")
    return lines


def folder_section(float_model: Path, quick: bool) -> list[str]:
    from folder_bench import camera_set, memory, small_set

    from onnpu.zoo.photos import write_photo_set

    n_camera, n_small, mem_counts = (60, 100, (100, 1000)) if quick else (500, 500, (1000, 10000))
    with tempfile.TemporaryDirectory() as tmp:
        camera, small, many = Path(tmp) / "camera", Path(tmp) / "small", Path(tmp) / "many"
        write_photo_set(camera, n_camera, ((1920, 1080), (4032, 3024)), quality=90)
        write_photo_set(small, n_small, ((640, 480), (480, 640), (512, 384), (320, 320)), seed=1, quality=90)
        cam = camera_set(float_model, camera, 1 if quick else 2)
        sm = small_set(float_model, small, 2 if quick else 3)
        write_photo_set(many, max(mem_counts), ((320, 240), (240, 320)), seed=2, quality=90)
        mem = memory(float_model, many, mem_counts, Path(tmp) / "results.csv")
    differ = ", ".join(cam["differ"]) or "none"  # type: ignore[arg-type]
    return ["## Folder-scale classify (EfficientNet-Lite0 float, CPU)", "",
            "`onnpu classify DIR` (decode threads overlapping inference, JPEG draft decoding with 2× "
            "oversampling, ORT spinning off) against the seed's per-image loop (`benchmarks/seed_loop.py`: full "
            "decode, resize, normalise, run, softmax, one image at a time) and against the inference-only ceiling "
            "(the same session on pre-decoded tensors). Runs interleaved; medians.", "",
            "| set | baseline | images/s | onnpu images/s | ratio | goal |", "|---|---|---|---|---|---|",
            f"| camera: {cam['images']} JPEGs, 1920×1080 and 4032×3024 | seed loop | {cam['seed']:.1f} | "
            f"{cam['onnpu']:.1f} | {cam['ratio']:.2f}× | ≥ 3× |",
            f"| small: {sm['images']} JPEGs ≤ 640 px | inference-only ceiling | {sm['ceiling']:.1f} | "
            f"{sm['onnpu']:.1f} | {sm['ratio']:.0%} | ≥ 90 % |", "",
            f"Top-1 of the fast path (draft decoding) against the float reference (full decode, same "
            f"preprocessing) on the camera set: images that differ: {differ}.", "",
            "Memory (fresh process each, results streamed to CSV): " + "; ".join(
                f"{int(r['images'])} images → peak RSS {r['peak_rss_mb']:.0f} MB ({r['images_per_s']:.0f} img/s)"
                for r in mem) + ".", "",
            "On 2 cores the small-set goal is out of reach: ONNX Runtime already uses both cores for inference "
            "(the ceiling), and decoding + resizing + normalising a 640 px JPEG costs ~4-5 ms of CPU per image "
            "that can only come out of the same two cores.", ""]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="BENCHMARKS.md")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    model = zoo.build()
    status = qnn_status()
    lines = ["# onnpu benchmarks", "",
             "Made by `make bench` (`python benchmarks/run.py --out BENCHMARKS.md`) on "
             f"{time.strftime('%Y-%m-%d')}: {platform.machine()}, {platform.system()}, "
             f"{__import__('os').cpu_count()} CPUs, Python {platform.python_version()}, onnxruntime {ort.__version__}, "
             f"onnxruntime-qnn {status.plugin_version} (QNN {status.qnn_sdk_version}), HTP: {status.htp_kind}. "
             "The machine is shared and noisy: every figure is a median, and ratios come from measurements "
             "interleaved in one run.", ""]
    rounds = 15 if args.quick else 40
    tiny = Path(tempfile.mkdtemp()) / "tiny.onnx"
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import models

    models.save(models.float_conv(), tiny)
    lines += ["## Per-call overhead of onnpu vs a bare `InferenceSession.run` loop (CPU, same session)", "",
              "| model | bare run (ms) | onnpu run (ms) | overhead |", "|---|---|---|---|"]
    for name, path, block in (("tiny conv 1x3x16x16", tiny, 200), ("EfficientNet-Lite0 float", model.float_model, 5)):
        o = overhead(path, rounds, block)
        lines.append(f"| {name} | {o['bare_ms']:.4f} | {o['onnpu_ms']:.4f} | {o['overhead']:+.2%} |")
    lines += ["", "Goal ≤ 2 %. onnpu's call path is `LoadedSession.run` → `InferenceSession.run` with the feeds "
              "already prepared; medians of per-call times over interleaved blocks.", ""]
    s = session_times(model.quantized_model, 3 if args.quick else 5)
    lines += ["## NPU session creation, cold vs cached QNN context (fresh process each, default model)", "",
              "| cold compile (s) | cached context (s) | speed-up |", "|---|---|---|",
              f"| {s['cold_s']:.3f} | {s['cached_s']:.3f} | {s['speedup']:.1f}× |", "",
              "Goal ≥ 10×. Measured inside fresh processes, so both include loading the QNN libraries.", ""]
    result = benchmark([(model.float_model, get_target("cpu")), (model.quantized_model, get_target("cpu")),
                        (model.quantized_model, get_target("npu"))], iterations=5 if args.quick else 10,
                       reference=model.float_model)
    lines += ["## Latency of the default model: CPU float vs CPU quantized vs NPU (interleaved)", "",
              "| run | p50 ms | p90 ms | min ms | inf/s | drift vs float: SQNR dB / top-1 |",
              "|---|---|---|---|---|---|"]
    drift = {d.label: d.outputs[0] for d in result.drift}
    for r in result.runs:
        d = drift.get(r.label)
        dtext = f"{d.sqnr_db:.1f} / {d.top1_agreement:.0%}" if d and d.top1_agreement is not None else "reference"
        lines.append(f"| {r.label} | {r.stats.p50:.2f} | {r.stats.p90:.2f} | {r.stats.min:.2f} | "
                     f"{r.stats.throughput:.1f} | {dtext} |")
    cpu_q = next(r for r in result.runs if r.label.endswith("qdq.onnx @ cpu"))
    lines += ["", f"CPU quantized / CPU float p50 ratio: {cpu_q.stats.p50 / result.runs[0].stats.p50:.2f}. "
              "The NPU column is the x86_64 HTP *emulator* (slow by design); on a board it is the Hexagon NPU. "
              "The CPU EP's fused integer kernels saturate on AVX2 machines without VNNI (U8S8 with full-range "
              "int8 weights), which is why CPU-quantized drift is far worse than the NPU's on this machine.", ""]
    with tempfile.TemporaryDirectory() as tmp:
        crops = Path(tmp) / "crops"
        write_crops(crops, per_photo=20 if args.quick else 60)
        rows, split = quality_table(model.float_model, crops)
    lines += ["## Quantization of EfficientNet-Lite0: recipes and weight rounding (held-out photo crops)", "",
              f"Calibration on {split['calib']} crops, evaluation on {split['heldout']} crops of photos never "
              f"used for calibration ({', '.join(split['photos'])}); the quantized arithmetic is evaluated "  # type: ignore[arg-type]
              "exactly (as the HTP computes it, to one step). Ranked by SQNR of the logits against the float "
              "model.", "",
              "| recipe | SQNR dB | top-1 agreement | top-5 overlap | u16 tensors | time to quantize s | MB |",
              "|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: -float(r["sqnr_db"])):  # type: ignore[arg-type]
        lines.append(f"| {row['recipe']} | {row['sqnr_db']:.2f} | {row['top1']:.1%} | {row['top5']:.1%} | "
                     f"{row['sixteen_bit']} | {row['seconds']:.1f} | {row['mb']:.2f} |")
    lines += ["", "Goals: ≥ 92 % top-1 and ≥ 19 dB for the default W8A8 recipe (issue 4); W8A8 ≥ 25 dB and "
              "W8A16 ≥ 29 dB with optimized rounding, each in ≤ 5 minutes on 2 cores (issue 9).", "",
              "### Optimized rounding on the other models the project prepares", ""]
    lines += other_models()
    lines.append("")
    lines += folder_section(model.float_model, args.quick)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
