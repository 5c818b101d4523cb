"""Speed sections of BENCHMARKS.md: onnpu's per-call overhead, NPU session creation cold vs cached, the
default model's latency on CPU float / CPU quantized / NPU, and whole-process start-up against a plain script."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from onnpu import get_target
from onnpu.measure.bench import benchmark
from onnpu.model.inspection import tensor_infos
from onnpu.runtime.session import create_session
from onnpu.zoo import ZooModel

HERE = Path(__file__).resolve().parent

SESSION_PROBE = """
import sys, time, json
from onnpu import get_target
from onnpu.runtime.context_cache import cached_session
from onnpu.runtime.session import create_session
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

    from onnpu.runtime.context_cache import cached_session

    cached_session(model, get_target("npu"))  # make sure the cache exists
    cold, cached = [], []
    for _ in range(repeats):
        cold.append(probe("cold"))
        cached.append(probe("cached"))
    return {"cold_s": statistics.median(cold), "cached_s": statistics.median(cached),
            "speedup": statistics.median(cold) / statistics.median(cached)}


def overhead_section(model: ZooModel, tiny: Path, quick: bool) -> list[str]:
    rounds = 15 if quick else 40
    lines = ["## Per-call overhead of onnpu vs a bare `InferenceSession.run` loop (CPU, same session)", "",
             "| model | bare run (ms) | onnpu run (ms) | overhead |", "|---|---|---|---|"]
    for name, path, block in (("tiny conv 1x3x16x16", tiny, 200), ("EfficientNet-Lite0 float", model.float_model, 5)):
        o = overhead(path, rounds, block)
        lines.append(f"| {name} | {o['bare_ms']:.4f} | {o['onnpu_ms']:.4f} | {o['overhead']:+.2%} |")
    return [*lines, "", "Goal ≤ 2 %. onnpu's call path is `LoadedSession.run` → `InferenceSession.run` with the "
            "feeds already prepared; medians of per-call times over interleaved blocks.", ""]


def sessions_section(model: ZooModel, quick: bool) -> list[str]:
    s = session_times(model.quantized_model, 3 if quick else 5)
    return ["## NPU session creation, cold vs cached QNN context (fresh process each, default model)", "",
            "| cold compile (s) | cached context (s) | speed-up |", "|---|---|---|",
            f"| {s['cold_s']:.3f} | {s['cached_s']:.3f} | {s['speedup']:.1f}× |", "",
            "Goal ≥ 10×. Measured inside fresh processes, so both include loading the QNN libraries.", ""]


def latency_section(model: ZooModel, quick: bool) -> list[str]:
    result = benchmark([(model.float_model, get_target("cpu")), (model.quantized_model, get_target("cpu")),
                        (model.quantized_model, get_target("npu"))], iterations=5 if quick else 10,
                       reference=model.float_model)
    lines = ["## Latency of the default model: CPU float vs CPU quantized vs NPU (interleaved)", "",
             "| run | p50 ms | p90 ms | min ms | inf/s | drift vs float: SQNR dB / top-1 |",
             "|---|---|---|---|---|---|"]
    drift = {d.label: d.outputs[0] for d in result.drift}
    for r in result.runs:
        d = drift.get(r.label)
        dtext = f"{d.sqnr_db:.1f} / {d.top1_agreement:.0%}" if d and d.top1_agreement is not None else "reference"
        lines.append(f"| {r.label} | {r.stats.p50:.2f} | {r.stats.p90:.2f} | {r.stats.min:.2f} | "
                     f"{r.stats.throughput:.1f} | {dtext} |")
    cpu_q = next(r for r in result.runs if r.label.endswith("qdq.onnx @ cpu"))
    ratio = cpu_q.stats.p50 / result.runs[0].stats.p50
    return [*lines, "", f"CPU quantized / CPU float p50 ratio: {ratio:.2f}. The NPU column is the x86_64 HTP "
            "*emulator* (slow by design); on a board it is the Hexagon NPU.", ""]


def _wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def startup_section(model: ZooModel, quick: bool) -> list[str]:
    """Whole processes, interleaved round by round, best of N: what a user waits for. The one-image classify
    is timed on the usual photo and on a 12-megapixel camera JPEG (4032x3024), each against the plain script
    on the same image."""
    import tempfile

    from onnpu.zoo.photos import photo_path, write_photo_set

    onnpu = str(Path(sys.executable).with_name("onnpu"))
    image = str(photo_path("matplotlib:grace_hopper.jpg"))
    labels = str(Path(__import__("onnpu").__file__).parent / "data" / "imagenet1k_labels.txt")
    with tempfile.TemporaryDirectory(prefix="onnpu-startup-") as tmp:
        camera = str(write_photo_set(Path(tmp), 1, ((4032, 3024),))[0])
        commands = {
            "plain script": [sys.executable, str(HERE / "plain_classify.py"), str(model.float_model), image, labels],
            "onnpu classify": [onnpu, "classify", image, "--model", str(model.float_model), "--target", "cpu"],
            "plain script, 4032x3024 JPEG": [sys.executable, str(HERE / "plain_classify.py"), str(model.float_model),
                                             camera, labels],
            "onnpu classify, 4032x3024 JPEG": [onnpu, "classify", camera, "--model", str(model.float_model),
                                               "--target", "cpu"],
            "onnpu --help": [onnpu, "--help"],
            "onnpu doctor --no-selftest": [onnpu, "doctor", "--no-selftest"],
            "python -c pass": [sys.executable, "-c", "pass"],
        }
        rounds = 5 if quick else 9
        times: dict[str, list[float]] = {k: [] for k in commands}
        for command in commands.values():
            _wall(command)  # warm the file cache
        for _ in range(rounds):
            for name, command in commands.items():
                times[name].append(_wall(command))
    best = {k: min(v) for k, v in times.items()}
    med = {k: statistics.median(v) for k, v in times.items()}

    def ratio(ours: str, plain: str) -> str:
        return (f"≤ 1.2× the plain script: {best[ours] / best[plain]:.2f}× best, "
                f"{med[ours] / med[plain]:.2f}× median")

    goals = {"onnpu --help": "≤ 0.3 s", "onnpu doctor --no-selftest": "≤ 1 s",
             "onnpu classify": ratio("onnpu classify", "plain script"),
             "onnpu classify, 4032x3024 JPEG": ratio("onnpu classify, 4032x3024 JPEG",
                                                     "plain script, 4032x3024 JPEG")}
    lines = ["## Start-up: whole processes (EfficientNet-Lite0 float, one photo, CPU)", "",
             f"Each command run {rounds} times, interleaved round by round, in fresh processes; best and median wall "
             "time. The plain script is `benchmarks/plain_classify.py` (onnxruntime + Pillow: imports, session, "
             "11 runs, softmax, top-5); `onnpu classify` does the same job with the model's own preprocessing, a "
             "warm-up and a timed run, and prints a table. The model is read without importing onnx "
             "(`onnpu.model.proto`); the 12-megapixel JPEG is a camera-size photo written by "
             "`onnpu.zoo.photos.write_photo_set`.", "",
             "| command | best s | median s | goal |", "|---|---|---|---|"]
    for name in commands:
        lines.append(f"| `{name}` | {best[name]:.3f} | {med[name]:.3f} | {goals.get(name, '')} |")
    return [*lines, ""]
