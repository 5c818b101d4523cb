"""How far one set of outputs is from another: SQNR, max / mean abs error, cosine similarity, top-1 /
top-5 agreement for classifier outputs, top-k itself, and the difference in quantization steps. Pure numpy,
shared by every layer: a figure two verbs show comes from here, so they never disagree about a model."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from onnpu.errors import InputDataError

DRIFT_FLAG_STEPS = 2.0  # more than this many steps apart is flagged (one step per layer is the HTP's rounding)

# Quality floors of a quantized model against its float original (README "Quality floors"): below one, prepare and
# quantize warn and say what to do.
SQNR_FLOOR_DB = 20.0  # every output
TOP1_FLOOR = 0.9  # class scores: top-1 agreement
COSINE_FLOOR = 0.99  # embeddings: mean cosine similarity

TASKS = ("classes", "embedding", "dense", "values")  # class scores, an embedding, boxes/pixels/maps, anything else


@dataclass
class OutputQuality:
    name: str
    sqnr_db: float
    max_abs_error: float
    mean_abs_error: float
    cosine: float | None  # mean per-sample cosine; None for one value per sample (always ±1: says nothing)
    top1_agreement: float | None = None
    top5_overlap: float | None = None
    samples: int = 0
    max_steps: float | None = None  # in the test output's quantization steps (None: a float output)
    mean_steps: float | None = None
    task: str | None = None  # one of TASKS, when known: decides the task figure and its floor

    def task_figure(self) -> str:
        """The figure that says what the difference costs for this kind of output."""
        if self.task == "classes" and self.top1_agreement is not None:
            top5 = f", top-5 {self.top5_overlap:.0%}" if self.top5_overlap is not None else ""
            return f"top-1 {self.top1_agreement:.0%}{top5}"
        if self.task == "embedding" and self.cosine is not None:
            return f"cosine {self.cosine:.4f}"
        return f"max |err| {self.max_abs_error:.4g}, mean {self.mean_abs_error:.4g}"

    def below_floor(self) -> str | None:
        """Why this output is below the documented floor (None: it is not)."""
        if self.task == "classes" and self.top1_agreement is not None and self.top1_agreement < TOP1_FLOOR:
            return f"top-1 agreement {self.top1_agreement:.0%} < {TOP1_FLOOR:.0%}"
        if self.task == "embedding" and self.cosine is not None and self.cosine < COSINE_FLOOR:
            return f"cosine {self.cosine:.4f} < {COSINE_FLOOR}"
        if self.sqnr_db < SQNR_FLOOR_DB:
            return f"{self.sqnr_db:.1f} dB < {SQNR_FLOOR_DB:g} dB"
        return None

    def cosine_text(self, digits: int = 5) -> str:
        return "-" if self.cosine is None else f"{self.cosine:.{digits}f}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"task_figure": self.task_figure(), "below_floor": self.below_floor()}


def worst_sqnr(qualities: Sequence[OutputQuality]) -> float:
    """The lowest SQNR over outputs (NaN for none): the figure a model's quality is judged by."""
    return min((q.sqnr_db for q in qualities), default=float("nan"))


def ratio_db(signal: float, noise: float) -> float:
    """10·log10(signal / noise): inf when the noise is zero, -inf when the signal is (and the noise is not)."""
    if noise <= 0:
        return math.inf
    ratio = signal / noise if signal > 0 else 0.0
    if ratio <= 0:  # no signal, or a signal that underflows against the noise (1e-300 / 1e10)
        return -math.inf
    return 10 * math.log10(ratio) if math.isfinite(ratio) else math.inf


def sqnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """10·log10(‖ref‖² / ‖ref − test‖²) over all samples; inf when identical."""
    ref = np.asarray(reference, np.float64).ravel()
    diff = ref - np.asarray(test, np.float64).ravel()
    return ratio_db(float(np.vdot(ref, ref)), float(np.vdot(diff, diff)))


def _is_classifier_output(samples: np.ndarray) -> bool:
    """[N, 1, C] or [N, C] scores with C ≥ 2 classes."""
    per_sample = samples.shape[1:]
    return int(np.prod(per_sample)) == per_sample[-1] >= 2 if per_sample else False


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores along the last axis, best first. The one tie rule: equal scores keep
    class order (the lower index first), as ``argmax`` does."""
    return np.argsort(-np.asarray(scores), axis=-1, kind="stable")[..., :k]


def mean_cosine(a: np.ndarray, b: np.ndarray) -> float | None:
    """Mean cosine similarity of the rows of ``a`` and ``b`` [samples, values]: two all-zero rows agree (1), one
    all-zero row against another does not (0); None for one value per row (its cosine is only its sign)."""
    if a.shape[1] < 2:
        return None
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    both_zero = (na == 0) & (nb == 0)
    cos = np.where(both_zero, 1.0, np.sum(a * b, axis=1) / np.maximum(na * nb, 1e-300))
    return float(np.mean(cos))


def compare_outputs(name: str, reference: Sequence[np.ndarray], test: Sequence[np.ndarray], *,
                    scale: Sequence[float] | None = None, axis: int | None = None,
                    integer: bool = False, task: str | None = None) -> OutputQuality:
    """SQNR, errors and cosine of ``test`` against ``reference`` (one array per sample); top-1 / top-5 for
    classifier outputs; ``task`` (one of ``TASKS``) picks the task figure; with ``scale`` (the test output's
    quantization step, per ``axis``) or ``integer``, the difference in steps too (:func:`drift_in_steps`)."""
    ref = np.stack([np.asarray(r, np.float64) for r in reference])
    tst = np.stack([np.asarray(t, np.float64) for t in test])
    if ref.shape != tst.shape:
        raise InputDataError(f"output {name}: shapes {list(ref.shape[1:])} and {list(tst.shape[1:])} differ, so there "
                             "is nothing to compare", hint="compare a model with its own quantized or compiled copy")
    if ref.size == 0:
        raise InputDataError(f"output {name}: no values to compare on these inputs (shape {list(ref.shape[1:])})",
                             hint="an output that is empty by its shape (a zero-size dim: fix the dims) or by the "
                                  "data (NonZero, an NMS that keeps nothing): compare on inputs that fill it")
    a, b = ref.reshape(len(ref), -1), tst.reshape(len(tst), -1)
    quality = OutputQuality(name, sqnr_db(ref, tst), float(np.max(np.abs(ref - tst))),
                            float(np.mean(np.abs(ref - tst))), mean_cosine(a, b), samples=len(ref), task=task)
    if _is_classifier_output(ref):
        k = min(5, a.shape[1])
        ta, tb = top_k(a, k), top_k(b, k)
        top1 = ta[:, 0] == tb[:, 0]
        overlap = [len(set(x) & set(y)) / k for x, y in zip(ta, tb, strict=True)]
        quality.top1_agreement = float(np.mean(top1))
        quality.top5_overlap = float(np.mean(overlap))
    if scale is not None or integer:
        steps = drift_in_steps(test, reference, scale, axis, integer=integer)
        quality.max_steps, quality.mean_steps = steps.max_steps, steps.mean_steps
    return quality


@dataclass
class StepDrift:
    """How far two runs of one output are apart, in that output's quantization steps (the scale of the Q/DQ
    that produces it, per axis when it has one scale per channel; integer outputs: the raw integer difference).
    ``kind`` is ``quantized``, ``integer`` or ``float`` (no step: only the raw difference)."""

    max_abs_diff: float
    kind: str
    step: float | None = None  # the output's (largest) step; 1 for integers
    max_steps: float | None = None
    mean_steps: float | None = None
    share_beyond: float | None = None  # share of values more than ``beyond`` steps apart
    beyond: float = DRIFT_FLAG_STEPS  # the flag, in this output's own steps (see ``flag_steps``)

    @property
    def flagged(self) -> bool:
        return self.max_steps is not None and self.max_steps > self.beyond + 1e-6

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"flagged": self.flagged}


def flag_steps(bits: int = 8, beyond: float = DRIFT_FLAG_STEPS) -> float:
    """The drift flagged, in the steps of a ``bits``-wide output: ``beyond`` steps of an 8-bit grid over the same
    range — a 16-bit step is 1/257 of an 8-bit one, so 168 steps of a uint16 output are less than one 8-bit step
    and are not flagged (more than 514 would be)."""
    return beyond * (2**bits - 1) / 255 if bits > 8 else beyond


def drift_in_steps(a: Sequence[np.ndarray], b: Sequence[np.ndarray], scale: Sequence[float] | None = None,
                   axis: int | None = None, *, integer: bool = False, bits: int = 8,
                   beyond: float = DRIFT_FLAG_STEPS) -> StepDrift:
    """``a`` against ``b`` (the same output, sample by sample) in quantization steps: ``scale`` (one value, or
    one per index of ``axis``) for a quantized output of ``bits``-wide integers; ``integer`` for integer outputs
    (a step is 1); neither: a float output, raw difference only. Steps are rounded to 1e-3: float32 outputs on the
    same step grid differ by whole steps up to float rounding. The flag (``beyond`` steps at 8 bits) scales with
    the width: ``flag_steps``."""
    if scale is not None and len(scale):
        beyond = flag_steps(bits, beyond)
    diffs = [np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)) for x, y in zip(a, b, strict=True)]
    raw = max((float(d.max()) for d in diffs if d.size), default=0.0)
    if scale is not None and len(scale):
        steps = np.asarray(scale, np.float64).ravel()
        per = [_in_steps(d, steps, axis) for d in diffs]
        kind, step = "quantized", float(steps.max())
    elif integer:
        per, kind, step = diffs, "integer", 1.0
    else:
        return StepDrift(raw, "float", beyond=beyond)
    values = np.concatenate([p.ravel() for p in per]) if per else np.zeros(0)
    if not values.size:
        return StepDrift(raw, kind, step, 0.0, 0.0, 0.0, beyond)
    return StepDrift(raw, kind, step, round(float(values.max()), 3), round(float(values.mean()), 4),
                     float(np.mean(values > beyond + 1e-6)), beyond)


def _in_steps(diff: np.ndarray, steps: np.ndarray, axis: int | None) -> np.ndarray:
    if steps.size == 1:
        return diff / steps[0]
    if axis is None or not diff.ndim or diff.shape[axis % diff.ndim] != steps.size:
        raise ValueError(f"{steps.size} scales do not fit an output of shape {list(diff.shape)} along axis {axis}")
    shape = [1] * diff.ndim
    shape[axis % diff.ndim] = -1
    return diff / steps.reshape(shape)
