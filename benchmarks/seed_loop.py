"""The seed script's per-image loop, written faithfully as the baseline for `onnpu classify` on folders:
one image at a time on one thread — open and fully decode, resize, normalise, run, softmax, top-5."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def seed_loop(model: str, images: list[Path], size: int = 224) -> tuple[float, list[int]]:
    """Images per second and the top-1 of each image."""
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    top1 = []
    start = time.perf_counter()
    for path in images:
        img = Image.open(path).convert("RGB")
        scale = size / min(img.size)  # shorter side to 224, centre crop (the model's own preprocessing)
        img = img.resize((max(size, round(img.width * scale)), max(size, round(img.height * scale))),
                         Image.Resampling.BILINEAR)
        left, top = (img.width - size) // 2, (img.height - size) // 2
        img = img.crop((left, top, left + size, top + size))
        x = ((np.asarray(img, np.float32) / 255 - MEAN) / STD).transpose(2, 0, 1)[None]
        logits = session.run(None, {name: x})[0][0]
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        top5 = np.argsort(-probs)[:5]
        top1.append(int(top5[0]))
    return len(images) / (time.perf_counter() - start), top1


if __name__ == "__main__":
    files = sorted(Path(sys.argv[2]).glob("*.jpg"))
    rate, _ = seed_loop(sys.argv[1], files)
    print(f"{rate:.2f} images/s over {len(files)} images")
