"""How far one set of outputs is from another: SQNR, max / mean abs error, cosine similarity, top-1 /
top-5 agreement for classifier outputs, and top-k itself. Pure numpy, shared by every layer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass
class OutputQuality:
    name: str
    sqnr_db: float
    max_abs_error: float
    mean_abs_error: float
    cosine: float
    top1_agreement: float | None = None
    top5_overlap: float | None = None
    samples: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sqnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """10·log10(‖ref‖² / ‖ref − test‖²) over all samples; inf when identical."""
    ref = reference.astype(np.float64).ravel()
    noise = np.sum((ref - test.astype(np.float64).ravel()) ** 2)
    signal = np.sum(ref**2)
    if noise == 0:
        return float("inf")
    return float(10 * np.log10(signal / noise)) if signal > 0 else float("-inf")


def _is_classifier_output(samples: np.ndarray) -> bool:
    """[N, 1, C] or [N, C] scores with C ≥ 2 classes."""
    per_sample = samples.shape[1:]
    return int(np.prod(per_sample)) == per_sample[-1] >= 2 if per_sample else False


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores of a 1-D vector, best first (stable: ties keep class order)."""
    return np.argsort(-np.asarray(scores), kind="stable")[:k]


def compare_outputs(name: str, reference: Sequence[np.ndarray], test: Sequence[np.ndarray]) -> OutputQuality:
    ref = np.stack([np.asarray(r, np.float64) for r in reference])
    tst = np.stack([np.asarray(t, np.float64) for t in test])
    a, b = ref.reshape(len(ref), -1), tst.reshape(len(tst), -1)
    cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-30)
    quality = OutputQuality(name, sqnr_db(ref, tst), float(np.max(np.abs(ref - tst))),
                            float(np.mean(np.abs(ref - tst))), float(np.mean(cos)), samples=len(ref))
    if _is_classifier_output(ref):
        top1 = np.argmax(a, axis=1) == np.argmax(b, axis=1)
        k = min(5, a.shape[1])
        ta, tb = np.argsort(-a, axis=1)[:, :k], np.argsort(-b, axis=1)[:, :k]
        overlap = [len(set(x) & set(y)) / k for x, y in zip(ta, tb, strict=True)]
        quality.top1_agreement = float(np.mean(top1))
        quality.top5_overlap = float(np.mean(overlap))
    return quality
