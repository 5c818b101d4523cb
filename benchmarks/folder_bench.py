"""Folder-scale classify vs the seed's per-image loop, and vs the inference-only ceiling."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from onnpu import get_target
from onnpu.model.inspection import TensorInfo, tensor_infos
from onnpu.runtime.session import create_session
from onnpu.vision.folder import classify_folder
from onnpu.vision.images import load_image
from onnpu.vision.preprocess import config_from_metadata, image_to_array

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed_loop import seed_loop


def _onnpu(model: Path, folder: Path, draft: bool = True) -> tuple[float, dict[str, int]]:
    top1: dict[str, int] = {}
    summary = classify_folder([folder], model, get_target("cpu"), draft=draft, top=1,
                              on_result=lambda image, top, error: top1.__setitem__(image, top[0][0] if top else -1))
    return summary.images_per_s, top1


def camera_set(model: Path, folder: Path, rounds: int) -> dict[str, object]:
    images = sorted(folder.glob("*.jpg"))
    seed_rates, ours = [], []
    seed_top1: list[int] = []
    for _ in range(rounds):  # interleaved: seed, onnpu, seed, onnpu …
        rate, seed_top1 = seed_loop(str(model), images)
        seed_rates.append(rate)
        ours.append(_onnpu(model, folder)[0])
    _, fast = _onnpu(model, folder, draft=True)
    _, reference = _onnpu(model, folder, draft=False)  # the float reference: full decode, same preprocessing
    differ = [Path(k).name for k in reference if fast[k] != reference[k]]
    return {"images": len(images), "seed": statistics.median(seed_rates), "onnpu": statistics.median(ours),
            "ratio": statistics.median(ours) / statistics.median(seed_rates), "differ": differ,
            "seed_vs_reference_differ": sum(a != reference[str(p)] for a, p in zip(seed_top1, images, strict=True))}


def small_set(model: Path, folder: Path, rounds: int) -> dict[str, object]:
    images = sorted(folder.glob("*.jpg"))
    loaded = create_session(model, get_target("cpu"))
    info = tensor_infos(loaded.proto)[0][0]
    config = config_from_metadata({m.key: m.value for m in loaded.proto.metadata_props})
    assert config is not None
    tensors = [image_to_array(load_image(p), TensorInfo(info.name, "float", info.shape), config) for p in images]
    ceiling, ours = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        for t in tensors:
            loaded.run({info.name: t})
        ceiling.append(len(tensors) / (time.perf_counter() - start))
        ours.append(_onnpu(model, folder)[0])
    return {"images": len(images), "ceiling": statistics.median(ceiling), "onnpu": statistics.median(ours),
            "ratio": statistics.median(ours) / statistics.median(ceiling)}


MEMORY_PROBE = """
import json, sys, glob
from onnpu import get_target
from onnpu.vision.folder import classify_folder
files = sorted(glob.glob(sys.argv[2] + "/*.jpg"))[: int(sys.argv[3])]
s = classify_folder(files, sys.argv[1], get_target("cpu"), output=sys.argv[4], top=1)
print(json.dumps({"images": s.classified, "peak_rss_mb": s.peak_rss_mb, "images_per_s": s.images_per_s}))
"""


def memory(model: Path, folder: Path, counts: tuple[int, ...], out: Path) -> list[dict[str, float]]:
    rows = []
    for n in counts:
        done = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(model), str(folder), str(n), str(out)],
                              capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return rows


__all__ = ["camera_set", "memory", "small_set"]


def folder_section(float_model: Path, quick: bool) -> list[str]:
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
    differ = f"{len(cam['differ'])} of {cam['images']}" + (": " + ", ".join(cam["differ"]) if cam["differ"] else "")  # type: ignore[arg-type]
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
            *([f"The small set reaches {sm['ratio']:.0%} of the ceiling on {os.cpu_count()} cores: the ceiling "
               "already uses them all for inference, and decoding competes with it for the same cores.", ""]
              if sm["ratio"] < 0.9 else [])]
