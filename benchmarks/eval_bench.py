"""`onnpu eval` throughput: images/s on the CPU QDQ path and on the emulated NPU, 1 vs N worker processes, the
Ray Data job's overhead over plain worker processes on the same machine, and a 10-node estimate on paper."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from onnpu import get_target
from onnpu.evaluation.run import evaluate
from onnpu.vision.classify import classify
from onnpu.zoo import ZooModel
from onnpu.zoo.photos import write_photo_set

VAL_SET = 50_000  # ImageNet-val


def labelled_set(model: ZooModel, count: int, root: Path) -> Path:
    """JPEG crops of the shipped photos (640×480 and 500×375, ImageNet-val-like sizes), one folder per class
    named by class number (ImageNet's names are not all unique), labelled with the float model's answers."""
    photos = write_photo_set(root / "photos", count, ((640, 480), (500, 375)), seed=5)
    answers = classify(photos, model.float_model, get_target("cpu"), top=1)
    tree = root / "tree"
    for photo, answer in zip(photos, answers.images, strict=True):
        folder = tree / str(answer.top[0].index)
        folder.mkdir(parents=True, exist_ok=True)
        shutil.move(str(photo), folder / photo.name)
    return tree


def _rate(model: Path, data: Path, target: str, whole: bool = False, **engine: object) -> float:
    """The steady rate: images/s once results flow (fixed start-up excluded: processes or actors started, sessions
    opened), else (or with ``whole``) the whole run's rate."""
    result = evaluate([model], data, [get_target(target)], **engine)  # type: ignore[arg-type]
    return result.images_per_s if whole else float(result.engine.get("steady_images_per_s") or result.images_per_s)


def _seconds(model: Path, data: Path, options: Mapping[str, object]) -> float:
    """The whole evaluation's wall time (start-up included)."""
    result = evaluate([model], data, [get_target("cpu")], **options)  # type: ignore[arg-type]
    return float(result.seconds)


def _count(data: Path) -> int:
    return sum(1 for _ in data.rglob("*.jpg"))


def _fixed_and_rate(t_small: float, t_large: float, n_small: int, n_large: int) -> tuple[float, float]:
    """(fixed seconds, images/s) of ``t = fixed + n / rate`` through two measured runs."""
    per_image = max(1e-9, (t_large - t_small) / (n_large - n_small))
    return max(0.0, t_small - n_small * per_image), 1 / per_image


def best(rounds: int, fn: object) -> float:
    return max(fn() for _ in range(rounds))  # type: ignore[operator]


def eval_section(model: ZooModel, quick: bool) -> list[str]:
    cores = os.cpu_count() or 1
    rounds = 1 if quick else 2
    root = Path(tempfile.mkdtemp(prefix="onnpu-eval-bench-"))
    try:
        cpu_set = labelled_set(model, 48 if quick else 160, root / "cpu")
        npu_set = labelled_set(model, 6 if quick else 12, root / "npu")
        qdq = model.quantized_model
        rows: list[tuple[str, int, float]] = []
        rates: dict[tuple[str, str], float] = {}
        for target, data in (("cpu", cpu_set), ("npu", npu_set)):
            for workers in (1, cores):
                rates[target, str(workers)] = best(rounds if target == "cpu" else 1,
                                                   lambda t=target, d=data, w=workers: _rate(qdq, d, t, workers=w))
        large_set = labelled_set(model, 4 * (48 if quick else 160), root / "large")
        import ray

        ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)  # the cluster's start is not timed
        try:
            seconds: dict[tuple[str, str], list[float]] = {}
            for _ in range(rounds):  # interleaved: processes, Ray, processes, Ray … on both set sizes
                for size, data in (("small", cpu_set), ("large", large_set)):
                    for engine, options in (("processes", {"workers": cores}), ("ray", {"ray": "auto"})):
                        seconds.setdefault((engine, size), []).append(_seconds(qdq, data, options))
        finally:
            ray.shutdown()
        small_n, large_n = _count(cpu_set), _count(large_set)
        fit = {engine: _fixed_and_rate(min(seconds[engine, "small"]), min(seconds[engine, "large"]), small_n,
                                       large_n) for engine in ("processes", "ray")}
        proc_rate, ray_rate = small_n / min(seconds["processes", "small"]), small_n / min(seconds["ray", "small"])
        overhead = proc_rate / ray_rate - 1  # whole runs of the small set
        steady = fit["processes"][1] / fit["ray"][1] - 1  # per image, start-up apart
        at_val = (fit["ray"][0] + VAL_SET / fit["ray"][1]) / (fit["processes"][0] + VAL_SET / fit["processes"][1]) - 1
        cpu_images = sum(1 for _ in cpu_set.rglob("*.jpg"))
        npu_images = sum(1 for _ in npu_set.rglob("*.jpg"))
        for target in ("cpu", "npu"):
            for workers in (1, cores):
                rows.append((target, workers, rates[target, str(workers)]))
        npu_node = rates["npu", str(cores)]
        cpu_node = rates["cpu", str(cores)]
        cluster_npu = 10 * npu_node / (1 + max(0.0, steady))
        cluster_cpu = 10 * cpu_node / (1 + max(0.0, steady))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    lines = ["## Accuracy evaluation throughput (`onnpu eval`, EfficientNet-Lite0 QDQ)", "",
             f"JPEG crops of the shipped photos (640×480, 500×375) in class folders; {cpu_images} images on the CPU "
             f"QDQ path, {npu_images} on the emulated NPU (`--soc` default). Images/s of the whole evaluation "
             "(decode, preprocess, inference, top-5) once results flow: the fixed start (worker processes or "
             f"actors started, sessions opened) is left out; best of {rounds} on the CPU; one intra-op thread per "
             "worker.", "",
             "| path | workers | images/s | speed-up |", "|---|---|---|---|"]
    for target, workers, rate in rows:
        base = rates[target, "1"]
        lines.append(f"| {'CPU QDQ' if target == 'cpu' else 'NPU (HTP emulator)'} | {workers} "
                     f"{'process' if workers == 1 else 'processes'} | {rate:.1f} | {rate / base:.2f}× |")
    lines += ["", f"Ray Data on this machine (a local cluster of {cores} CPUs, started before timing; "
                  f"{cores} actors) against {cores} plain worker processes on the CPU QDQ path, interleaved, whole "
                  f"runs of {small_n} and {large_n} images (best of {rounds}); each engine's time fitted as a fixed "
                  "start (workers or actors started, sessions opened) plus images ÷ rate:", "",
                  "| engine | start (s) | images/s after it | whole run of "
                  f"{small_n} (images/s) |", "|---|---|---|---|",
                  f"| processes | {fit['processes'][0]:.1f} | {fit['processes'][1]:.1f} | {proc_rate:.1f} |",
                  f"| Ray Data | {fit['ray'][0]:.1f} | {fit['ray'][1]:.1f} | {ray_rate:.1f} |", "",
                  f"Overhead of Ray: **{100 * overhead:+.1f} %** on the whole {small_n}-image run (its start "
                  f"dominates), **{100 * steady:+.1f} %** per image once running, **{100 * at_val:+.1f} %** "
                  f"predicted for {VAL_SET:,} images (goal ≤ 10 %).",
              "",
              f"On paper, 10 such nodes ({cores} cores each) through Ray, with the per-image overhead above: "
              f"≈ {cluster_npu:.1f} images/s on the emulated NPU ({VAL_SET:,} ImageNet-val images in "
              f"{VAL_SET / cluster_npu / 3600:.1f} h, against {VAL_SET / rates['npu', '1'] / 3600:.1f} h on one core), "
              f"≈ {cluster_cpu:.0f} images/s on the CPU QDQ path ({VAL_SET / cluster_cpu / 60:.1f} min). "
              "The estimate assumes the images on shared storage each node reads at this rate, and per-node "
              "throughput that scales with nodes as it does with processes here (Ray ships each model and "
              "compiled context once per node). On real boards the NPU is not emulated: per-node figures come "
              "from the board's own `onnpu eval` run.", ""]
    return lines
