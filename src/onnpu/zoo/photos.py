"""Real photos shipped inside PyPI packages (scikit-image, matplotlib), for offline calibration and tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from onnpu.errors import InputDataError
from onnpu.storage import temporary_beside

# Held out: never used for calibration, so classification tests on them are honest.
EVALUATION_PHOTOS = ("matplotlib:grace_hopper.jpg", "skimage:chelsea.png")
CALIBRATION_PHOTOS = (
    "skimage:astronaut.png", "skimage:coffee.png", "skimage:rocket.jpg", "skimage:motorcycle_left.png",
    "skimage:motorcycle_right.png", "skimage:camera.png", "skimage:brick.png", "skimage:grass.png",
    "skimage:gravel.png", "skimage:hubble_deep_field.jpg", "skimage:ihc.png", "skimage:retina.jpg",
    "skimage:coins.png", "skimage:moon.png", "skimage:clock_motion.png", "skimage:color.png",
    "skimage:horse.png", "skimage:page.png", "matplotlib:Minduka_Present_Blue_Pack.png",
)


def photo_path(ref: str) -> Path:
    """``skimage:NAME`` or ``matplotlib:NAME`` to the file inside the installed package."""
    package, _, name = ref.partition(":")
    try:
        if package == "skimage":
            import skimage

            base = Path(skimage.__file__).parent / "data"
        elif package == "matplotlib":
            import matplotlib

            base = Path(matplotlib.__file__).parent / "mpl-data" / "sample_data"
        else:
            raise InputDataError(f"unknown photo source {package!r}", hint="use skimage:NAME or matplotlib:NAME")
    except ImportError as exc:
        raise InputDataError(f"photo {ref} needs the {package} package", hint="pip install 'onnpu[zoo]'") from exc
    path = base / name
    if not path.is_file():
        raise InputDataError(f"photo {ref} not found at {path}", hint=f"reinstall {package}")
    return path


def calibration_crops(count_per_photo: int = 4, seed: int = 0) -> list[Image.Image]:
    """Deterministic crops and flips of the calibration photos (never the evaluation photos)."""
    from onnpu.vision.images import load_image

    rng = np.random.default_rng(seed)
    crops: list[Image.Image] = []
    for ref in CALIBRATION_PHOTOS:
        img = load_image(photo_path(ref))
        for i in range(count_per_photo):
            if i == 0:
                crops.append(img)
                continue
            frac = rng.uniform(0.5, 0.9)
            w, h = max(16, int(img.width * frac)), max(16, int(img.height * frac))
            left, top = int(rng.integers(0, img.width - w + 1)), int(rng.integers(0, img.height - h + 1))
            crop = img.crop((left, top, left + w, top + h))
            crops.append(crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if i % 2 else crop)
    return crops


def write_crops(folder: Path, per_photo: int = 10, seed: int = 0, size: int = 320,
                photos: tuple[str, ...] = CALIBRATION_PHOTOS + EVALUATION_PHOTOS) -> list[Path]:
    """A folder of JPEG crops (random area 30-100 %, random flips), one subfolder per photo, so that a
    calibration / held-out split by subfolder never shares a photo."""
    from onnpu.vision.images import load_image

    rng = np.random.default_rng(seed)
    written = []
    for ref in photos:
        img = load_image(photo_path(ref))
        sub = folder / Path(ref.partition(":")[2]).stem
        sub.mkdir(parents=True, exist_ok=True)
        for k in range(per_photo):
            frac = float(np.sqrt(rng.uniform(0.3, 1.0)))
            w, h = max(32, int(img.width * frac)), max(32, int(img.height * frac))
            left, top = int(rng.integers(0, img.width - w + 1)), int(rng.integers(0, img.height - h + 1))
            crop = img.crop((left, top, left + w, top + h))
            if rng.random() < 0.5:
                crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            crop.thumbnail((size, size))
            path = sub / f"crop{k:03d}.jpg"
            with temporary_beside(path) as tmp:
                crop.save(tmp, format="JPEG", quality=90)
            written.append(path)
    return written


def write_photo_set(folder: Path, count: int, sizes: tuple[tuple[int, int], ...], seed: int = 0,
                    quality: int = 90) -> list[Path]:
    """``count`` JPEGs at the given (width, height) sizes, cycled: random crops of the shipped photos with
    the target's aspect ratio, random flips, resized to the size, JPEG quality ``quality``."""
    from onnpu.vision.images import load_image

    rng = np.random.default_rng(seed)
    sources = [load_image(photo_path(ref)) for ref in CALIBRATION_PHOTOS + EVALUATION_PHOTOS]
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for k in range(count):
        w, h = sizes[k % len(sizes)]
        img = sources[int(rng.integers(len(sources)))]
        frac = float(rng.uniform(0.6, 1.0))
        cw = min(img.width, int(img.height * w / h)) * frac
        ch = cw * h / w
        left = int(rng.integers(0, max(1, int(img.width - cw) + 1)))
        top = int(rng.integers(0, max(1, int(img.height - ch) + 1)))
        crop = img.crop((left, top, left + int(cw), top + int(ch))).resize((w, h), Image.Resampling.BILINEAR)
        if rng.random() < 0.5:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        path = folder / f"img{k:05d}.jpg"
        with temporary_beside(path) as tmp:
            crop.save(tmp, format="JPEG", quality=quality)
        written.append(path)
    return written
