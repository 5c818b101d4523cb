"""`onnpu detect`'s speed: decoding a YOLOv8 output (threshold + class-aware NMS) against the one-by-one NMS loop,
and `detect DIR` against a plain per-image loop (decode, letterbox, run, decode, NMS) on camera-size JPEGs."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
import corpus  # noqa: E402
import detect_models as dm  # noqa: E402
from onnpu import get_target  # noqa: E402
from onnpu.runtime.session import create_session  # noqa: E402
from onnpu.vision.detection import decode, nms, recognise_head  # noqa: E402
from onnpu.vision.detection.decoding import Detections  # noqa: E402
from onnpu.vision.detection.folder import detect_folder  # noqa: E402
from onnpu.vision.detection.matching import MatchStats, match_detections  # noqa: E402
from onnpu.vision.detection.results import ImageDetections, boxes_of  # noqa: E402


def _median_ms(call: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _dense(seed: int = 0) -> np.ndarray:
    """Every one of the 8,400 candidates above the threshold, boxes in tight clusters and spread out: the worst
    case (a real frame never looks like this)."""
    rng = np.random.default_rng(seed)
    out = np.empty((1, 84, 8400), np.float32)
    centres = rng.uniform(40, 600, (25, 2))
    xy = np.where(rng.random((8400, 1)) < 0.7, centres[rng.integers(0, 25, 8400)] + rng.normal(0, 6, (8400, 2)),
                  rng.uniform(0, 640, (8400, 2)))
    out[0, :2] = xy.T
    out[0, 2:4] = rng.uniform(8, 160, (2, 8400))
    out[0, 4:] = rng.uniform(0, 0.2, (80, 8400))
    out[0, 4 + rng.integers(0, 80, 8400), np.arange(8400)] = rng.uniform(0.26, 1, 8400)
    return out


def decoding(repeats: int) -> list[dict[str, object]]:
    rows = []
    for name, output in (("a busy frame: 20 objects", dm.yolov8_frame(20)), ("worst case: all 8,400 pass", _dense())):
        head = recognise_head({"output0": output.shape}, (640, 640))
        feeds = {"output0": output}
        a = output[0]
        best = a[4:].max(axis=0)
        keep = np.flatnonzero(best > 0.25)
        boxes = np.concatenate([a[:2, keep].T - a[2:4, keep].T / 2, a[:2, keep].T + a[2:4, keep].T / 2], 1)
        scores, classes = best[keep], a[4:, keep].argmax(axis=0)
        found = decode(feeds, head)
        rows.append({"case": name, "candidates": len(keep), "kept": len(found),
                     "decode": _median_ms(lambda f=feeds, h=head: decode(f, h), repeats),  # type: ignore[misc]
                     "nms": _median_ms(lambda b=boxes, s=scores, c=classes: nms(b, s, c), repeats),  # type: ignore[misc]
                     "loop": _median_ms(lambda b=boxes, s=scores, c=classes: dm.greedy_loop(b, s, c, 0.45, 300),  # type: ignore[misc]
                                        max(3, repeats // 10))})
    return rows


@dataclass(frozen=True)
class Loop:
    """How the plain loop feeds one corpus detector, as its user's own code would: where the image goes in the
    input (YOLOX: the top-left corner; YOLOv8: centred), channel order and scale."""

    name: str
    title: str
    kind: str
    centred: bool
    bgr: bool
    scale: float
    size: int  # the input's side (fixed in the model, or what onnpu picks for a dynamic one)


LOOPS = (Loop("ddddocr_det", "ddddocr's YOLOX", "yolox", False, True, 1.0, 416),
         Loop("nudenet_yolov8n", "nudenet's YOLOv8n", "yolov8", True, False, 1 / 255, 320))


def _letterbox(path: Path, size: int, loop: Loop) -> tuple[np.ndarray, float, tuple[int, int], tuple[int, int]]:
    img = Image.open(path).convert("RGB")
    ratio = min(size / img.width, size / img.height)
    resized = img.resize((round(img.width * ratio), round(img.height * ratio)), Image.BILINEAR)
    canvas = Image.new("RGB", (size, size), (114, 114, 114))
    offset = ((size - resized.width) // 2, (size - resized.height) // 2) if loop.centred else (0, 0)
    canvas.paste(resized, offset)
    pixels = np.asarray(canvas, np.float32)
    if loop.bgr:
        pixels = pixels[..., ::-1]
    return (pixels * loop.scale).transpose(2, 0, 1)[None].copy(), ratio, offset, img.size


def plain_loop(model: Path, images: list[Path], loop: Loop) -> tuple[float, list[ImageDetections]]:
    """What a user writes: open the JPEG, letterbox, run, decode, NMS, boxes back to the photo's pixels."""
    session = create_session(model, get_target("cpu")).session
    name = session.get_inputs()[0].name
    size = loop.size
    output = session.get_outputs()[0].name
    head = None
    found_all = []
    start = time.perf_counter()
    for path in images:
        x, ratio, (left, top), (width, height) = _letterbox(path, size, loop)
        out = session.run([output], {name: x})[0]
        head = head or recognise_head({output: out.shape}, (size, size), kind=loop.kind)
        found = decode({output: out}, head)
        boxes = np.clip((found.boxes - [left, top, left, top]) / ratio, 0, [width, height, width, height])
        mapped = Detections(boxes, found.scores, found.classes)
        found_all.append(ImageDetections(str(path), width, height, boxes_of(mapped, [])))
    return len(images) / (time.perf_counter() - start), found_all


def ceiling(model: Path, images: list[Path], loop: Loop) -> float:
    """Inference alone (the same session kind on tensors made beforehand): what no folder pipeline can beat."""
    session = create_session(model, get_target("cpu")).session
    name = session.get_inputs()[0].name
    size = loop.size
    tensors = [_letterbox(p, size, loop)[0] for p in images]
    start = time.perf_counter()
    for x in tensors:
        session.run(None, {name: x})
    return len(tensors) / (time.perf_counter() - start)


def folder(loop: Loop, images: Path, rounds: int) -> dict[str, object]:
    model = corpus.fetch(next(r for r in corpus.records() if r["name"] == loop.name))
    files = sorted(images.glob("*.jpg"))
    plain, ours, top = [], [], []
    for _ in range(rounds):  # interleaved: plain loop, onnpu, inference alone …
        rate, full = plain_loop(model, files, loop)
        plain.append(rate)
        drafted: list[ImageDetections] = []
        summary = detect_folder([images], model, get_target("cpu"), on_result=drafted.append)
        ours.append(summary.images_per_s)
        top.append(ceiling(model, files[:30], loop))
    same = match_detections(full, drafted)
    size = loop.size
    at_input = [e * size / max(d.width or 1, d.height or 1) for d, e in _errors(full, drafted)]
    return {"model": loop.title, "size": size, "images": len(files), "plain": statistics.median(plain),
            "onnpu": statistics.median(ours), "ratio": statistics.median(ours) / statistics.median(plain),
            "ceiling": statistics.median(top), "match": same,
            "shift": statistics.median(at_input) if at_input else None}


def _errors(full: list[ImageDetections], drafted: list[ImageDetections]) -> list[tuple[ImageDetections, float]]:
    """Each matched box's error (largest coordinate difference, original pixels) with its image."""
    out = []
    for a, b in zip(full, drafted, strict=True):
        stats = match_detections([a], [b])
        out += [(a, e) for e in stats.errors_px]
    return out


def _folder_row(f: dict[str, object]) -> str:
    same = f["match"]
    assert isinstance(same, MatchStats)
    shift = "-" if f["shift"] is None else f"{f['shift']:.2f}"
    ceiling_rate = float(f["ceiling"])  # type: ignore[arg-type]
    plain_rate = float(f["plain"])  # type: ignore[arg-type]
    return (f"| {f['model']} ({f['size']}×{f['size']}) | {plain_rate:.1f} | {f['onnpu']:.1f} | "
            f"**{f['ratio']:.2f}×** | {ceiling_rate:.1f} | {ceiling_rate / plain_rate:.2f}× | "
            f"{same.matched + same.missed} | {same.matched} / {same.missed} / {same.extra} | {shift} | ≥ 3× |")


def detect_section(quick: bool) -> list[str]:
    from onnpu.zoo.photos import write_photo_set

    rows = decoding(50 if quick else 300)
    with tempfile.TemporaryDirectory() as tmp:
        camera = Path(tmp) / "camera"
        write_photo_set(camera, 30 if quick else 120, ((1920, 1080), (4032, 3024)), quality=90)
        folds = [folder(loop, camera, 1 if quick else 2) for loop in LOOPS]
    table = ["| case | candidates over 0.25 | kept | decode (threshold + NMS) ms | NMS ms | one-by-one NMS ms "
             "| goal |", "|---|---|---|---|---|---|---|"]
    table += [f"| {r['case']} | {r['candidates']} | {r['kept']} | {r['decode']:.2f} | {r['nms']:.2f} | "
              f"{r['loop']:.2f} | ≤ 1 ms |" for r in rows]
    folder_table = ["| detector (input) | plain loop images/s | `detect DIR` images/s | ratio | inference alone "
                    "images/s | bound (inference alone ÷ plain loop) | boxes (full decoding) | matched / missed / "
                    "extra | median box shift, input px | goal |", "|---|---|---|---|---|---|---|---|---|---|"]
    folder_table += [_folder_row(f) for f in folds]
    return ["## Detection: decoding and folders (`onnpu detect`)", "",
            "Decoding a YOLOv8 output `[1, 84, 8400]` (8,400 candidates × 80 classes, 640×640) with the defaults "
            "(conf 0.25, IoU 0.45, at most 300): the best class per candidate, the threshold, boxes to xyxy and "
            "class-aware NMS, median of repeated calls on one core. NMS runs in blocks of candidates (an overlap "
            "matrix per block, resolved to the exact greedy answer) and stops at 300 kept; the one-by-one loop is "
            "the plain greedy algorithm (numpy against every candidate left), same answers. The busy frame is "
            "modelled on a real one (`tests/detect_models.py: yolov8_frame`: objects seen by the cells near "
            "their centres on every level); the worst case has every candidate above the threshold.", "",
            *table, "",
            f"`onnpu detect DIR` (decode threads overlapping inference, JPEG draft decoding at the reduction that "
            f"keeps 2× the pixels the letterbox needs) against a plain per-image loop (Pillow full decode, "
            f"letterbox, run, decode, NMS, boxes to the photo's pixels: `plain_loop` in "
            f"`benchmarks/detect_bench.py`), interleaved, medians: {folds[0]['images']} camera JPEGs (1920×1080 and "
            f"4032×3024), float models on the CPU. Inference alone is the same session on tensors made "
            f"beforehand: the plain loop's time outside inference bounds the ratio any pipeline reaches on a CPU "
            f"that also runs the model (on a board the NPU runs it, and decoding is what is left). Boxes: onnpu's "
            f"(draft decoding) matched to the plain loop's (full decoding) by class and IoU ≥ 0.5; the shift is "
            f"the largest coordinate difference of a matched pair, in the model's input pixels.", "",
            *folder_table, ""]
