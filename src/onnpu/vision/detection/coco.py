"""COCO: the results format (``[{"image_id", "category_id", "bbox": [x, y, w, h], "score"}]``, with
``"keypoints": [x, y, 2, …]`` for heads that give landmarks), the 80 detector
classes as COCO's 91 category ids, and image ids taken from an annotations file or from COCO-style names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from onnpu.vision.detection.coco_ids import COCO80_TO_91
from onnpu.vision.detection.results import ImageDetections


def category_id(cls: int, coco80: bool) -> int:
    """A class index as a COCO category id: COCO's own ids for an 80-class model, else the index itself."""
    return COCO80_TO_91[cls] if coco80 and 0 <= cls < len(COCO80_TO_91) else cls


def image_id(image: str, position: int, by_name: Mapping[str, int] | None = None) -> int:
    """The id of an image: from the annotations (by file name), else the number in a COCO-style name
    (``000000000139.jpg`` → 139), else its 1-based position."""
    name = Path(image).name
    if by_name and name in by_name:
        return by_name[name]
    stem = Path(image).stem
    return int(stem) if stem.isdigit() else position + 1


def coco_results(images: Iterable[ImageDetections], *, coco80: bool = False,
                 categories: Mapping[int, int] | None = None,
                 by_name: Mapping[str, int] | None = None) -> list[dict[str, Any]]:
    """Detections in COCO's results format. Category ids: ``categories`` (class → id) when given, else COCO's
    ids for an 80-class model (``coco80``), else the class index."""
    out: list[dict[str, Any]] = []
    for position, result in enumerate(images):
        if result.error is not None:
            continue
        ident = image_id(result.image, position, by_name)
        for b in result.boxes:
            x1, y1, x2, y2 = b.box
            cat = categories.get(b.cls, b.cls) if categories is not None else category_id(b.cls, coco80)
            row: dict[str, Any] = {"image_id": ident, "category_id": cat,
                                   "bbox": [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
                                   "score": round(b.score, 5)}
            if b.points is not None:  # face landmarks: COCO's keypoints, x, y, visibility (2: labelled, visible)
                row["keypoints"] = [v for x, y in b.points for v in (round(x, 2), round(y, 2), 2)]
                row["num_keypoints"] = len(b.points)
            out.append(row)
    return out
