"""Two sets of detections of the same images compared box by box — what quantization or the NPU did to a
detector: pairs of the same class matched greedily by IoU (best first), the box error of each pair in pixels
(the largest of its four coordinates' differences), and the detections only one side has. The one function
behind ``detect --eval``'s side-by-side columns and ``prepare``'s detection report."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from onnpu.vision.detection.results import ImageDetections
from onnpu.vision.detection.suppression import box_iou


@dataclass
class MatchStats:
    matched: int
    missed: int  # in the reference, not in the candidate
    extra: int  # in the candidate, not in the reference
    median_box_error_px: float | None
    p90_box_error_px: float | None
    max_box_error_px: float | None
    median_score_diff: float | None
    errors_px: list[float] = field(default_factory=list, repr=False)

    @property
    def all_matched(self) -> bool:
        return self.missed == 0 and self.extra == 0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("errors_px")
        return out

    def describe(self) -> str:
        error = "-" if self.median_box_error_px is None else f"{self.median_box_error_px:.2f}"
        worst = "-" if self.max_box_error_px is None else f"{self.max_box_error_px:.2f}"
        return (f"{self.matched} matched, {self.missed} missed, {self.extra} extra; box error median {error} px, "
                f"max {worst} px")


def _pairs(ref: ImageDetections, cand: ImageDetections, iou: float) -> tuple[list[tuple[int, int]], int, int]:
    if not ref.boxes or not cand.boxes:
        return [], len(ref.boxes), len(cand.boxes)
    a = np.array([b.box for b in ref.boxes])
    b = np.array([c.box for c in cand.boxes])
    overlap = box_iou(a, b)
    same = np.array([[r.cls == c.cls for c in cand.boxes] for r in ref.boxes])
    overlap = np.where(same, overlap, 0.0)
    pairs: list[tuple[int, int]] = []
    used_r: set[int] = set()
    used_c: set[int] = set()
    for flat in np.argsort(-overlap, axis=None, kind="stable"):
        i, j = divmod(int(flat), overlap.shape[1])
        if overlap[i, j] < iou:
            break
        if i in used_r or j in used_c:
            continue
        pairs.append((i, j))
        used_r.add(i)
        used_c.add(j)
    return pairs, len(ref.boxes) - len(pairs), len(cand.boxes) - len(pairs)


def match_detections(reference: Sequence[ImageDetections], candidate: Sequence[ImageDetections],
                     iou: float = 0.5) -> MatchStats:
    """``candidate`` against ``reference``, image by image (by position; images that failed on either side are
    left out)."""
    matched = missed = extra = 0
    errors: list[float] = []
    scores: list[float] = []
    for ref, cand in zip(reference, candidate, strict=True):
        if ref.error is not None or cand.error is not None:
            continue
        pairs, m, e = _pairs(ref, cand, iou)
        matched, missed, extra = matched + len(pairs), missed + m, extra + e
        for i, j in pairs:
            errors.append(float(np.abs(np.subtract(ref.boxes[i].box, cand.boxes[j].box)).max()))
            scores.append(abs(ref.boxes[i].score - cand.boxes[j].score))
    return MatchStats(matched, missed, extra,
                      statistics.median(errors) if errors else None,
                      float(np.percentile(errors, 90)) if errors else None, max(errors) if errors else None,
                      statistics.median(scores) if scores else None, errors)
