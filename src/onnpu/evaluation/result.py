"""What an evaluation found: per row (model × target) top-1 / top-5 with their intervals, the difference
from the reference row (the float model on the CPU) with a paired-bootstrap interval and McNemar's exact
test, the inputs whose top-1 answer changed, and what was skipped. ``to_dict`` is the ``--json`` document."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from onnpu.evaluation.stats import PairedDifference, paired_difference, wilson
from onnpu.evaluation.worker import ItemRecord, RowSpec

SCHEMA = "onnpu.eval/1"


@dataclass
class RowResult:
    label: str
    model: str
    target: dict[str, Any]
    reference: bool
    evaluated: int
    top1: float
    top5: float
    top1_interval: tuple[float, float]
    session: dict[str, Any]
    versus_reference: PairedDifference | None = None
    top5_versus_reference: PairedDifference | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "model": self.model, "target": self.target, "reference": self.reference,
                "evaluated": self.evaluated, "top1": self.top1, "top5": self.top5,
                "top1_interval": list(self.top1_interval), **self.session,
                "versus_reference": self.versus_reference.to_dict() if self.versus_reference else None,
                "top5_versus_reference": self.top5_versus_reference.to_dict() if self.top5_versus_reference else None}


@dataclass
class ChangedAnswer:
    """An input whose top-1 answer on a row differs from the reference row's."""

    image: str
    label: str
    row: str
    reference_answer: str
    answer: str
    reference_correct: bool
    correct: bool

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class EvalResult:
    data: str
    data_kind: str
    classes: int
    rows: list[RowResult]
    changed: list[ChangedAnswer]
    images: int  # labelled images matched to a class
    evaluated: int
    skipped: dict[str, int]  # reason → count (unmatched classes, unreadable images, non-image files, ...)
    unmatched_classes: dict[str, int]
    unreadable: list[dict[str, str]]
    engine: dict[str, Any]
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0

    @property
    def reference(self) -> RowResult:
        return next(r for r in self.rows if r.reference)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "data": self.data, "data_kind": self.data_kind, "classes": self.classes,
                "images": self.images, "evaluated": self.evaluated, "skipped": self.skipped,
                "skipped_total": sum(self.skipped.values()), "unmatched_classes": self.unmatched_classes,
                "unreadable": self.unreadable, "rows": [r.to_dict() for r in self.rows],
                "changed": [c.to_dict() for c in self.changed], "engine": self.engine, "seconds": self.seconds,
                "images_per_s": self.images_per_s, "notes": self.notes}


def correctness(records: Sequence[ItemRecord], labels: Sequence[int], row: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-1 and top-5 correctness of ``row`` over the readable records (in record order)."""
    top1 = np.array([r.tops[row][0] == labels[r.index] for r in records], bool)
    top5 = np.array([labels[r.index] in r.tops[row][:5] for r in records], bool)
    return top1, top5


def summarise(specs: Sequence[RowSpec], sessions: Sequence[dict[str, Any]], records: Sequence[ItemRecord],
              labels: Sequence[int], images: Sequence[str], names: Sequence[str]
              ) -> tuple[list[RowResult], list[ChangedAnswer]]:
    """Rows and changed answers from the readable records (sorted by index)."""
    readable = [r for r in records if r.error is None]
    ref_index = next(i for i, s in enumerate(specs) if s.reference)
    ref1, ref5 = correctness(readable, labels, ref_index)
    rows: list[RowResult] = []
    changed: list[ChangedAnswer] = []
    for i, spec in enumerate(specs):
        top1, top5 = correctness(readable, labels, i)
        n = len(readable)
        row = RowResult(spec.label, spec.model, spec.target.to_dict(), spec.reference, n,
                        float(top1.mean()) if n else 0.0, float(top5.mean()) if n else 0.0,
                        wilson(int(top1.sum()), n), sessions[i])
        if i != ref_index:
            row.versus_reference = paired_difference(ref1, top1)
            row.top5_versus_reference = paired_difference(ref5, top5)
            for k, record in enumerate(readable):
                a, b = record.tops[ref_index][0], record.tops[i][0]
                if a != b:
                    changed.append(ChangedAnswer(images[record.index], names[labels[record.index]], spec.label,
                                                 names[a], names[b], bool(ref1[k]), bool(top1[k])))
        rows.append(row)
    return rows, changed
