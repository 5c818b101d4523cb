"""Boxes, labels (and landmarks) drawn on the original image (Pillow), one colour per class, written atomically."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from onnpu.storage import atomic_output
from onnpu.vision.detection.results import Box
from onnpu.vision.images import load_image

PALETTE = [(255, 56, 56), (255, 157, 151), (255, 112, 31), (255, 178, 29), (207, 210, 49), (72, 249, 10),
           (146, 204, 23), (61, 219, 134), (26, 147, 52), (0, 212, 187), (44, 153, 168), (0, 194, 255),
           (52, 69, 147), (100, 115, 255), (0, 24, 236), (132, 56, 255), (82, 0, 133), (203, 56, 255),
           (255, 149, 200), (255, 55, 199)]


def draw_boxes(img: Image.Image, boxes: list[Box]) -> Image.Image:
    out = img.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    width = max(1, round(max(out.size) / 400))
    font = ImageFont.load_default(size=max(10, round(max(out.size) / 50)))
    for b in boxes:
        colour = PALETTE[b.cls % len(PALETTE)]
        x1, y1, x2, y2 = b.box
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=width)
        for x, y in b.points or ():
            r = 2 * width
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour, outline=(255, 255, 255))
        text = f"{b.label} {b.score:.2f}"
        left, top, right, bottom = draw.textbbox((x1, y1), text, font=font)
        lift = bottom - top + 2
        ty = y1 - lift if y1 - lift >= 0 else y1
        draw.rectangle((x1, ty, x1 + right - left + 4, ty + lift), fill=colour)
        draw.text((x1 + 2, ty), text, fill=(255, 255, 255), font=font)
    return out


def save_drawn(image: str | Path, boxes: list[Box], folder: str | Path, taken: set[str]) -> Path:
    """``image`` with its boxes drawn, saved into ``folder`` under its own name (``name-2.jpg`` … when two images
    share a name); PNG stays PNG, anything else becomes JPEG."""
    src = Path(image)
    suffix = ".png" if src.suffix.lower() == ".png" else ".jpg"
    name, k = src.stem + suffix, 2
    while name in taken:
        name, k = f"{src.stem}-{k}{suffix}", k + 1
    taken.add(name)
    dest = Path(folder) / name
    drawn = draw_boxes(load_image(src), boxes)
    with atomic_output(dest) as f:
        drawn.save(f, format="PNG" if suffix == ".png" else "JPEG", quality=92)
    return dest
