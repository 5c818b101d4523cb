"""The statistics of an evaluation: an accuracy with its Wilson interval, and the difference between two
paired runs on the same inputs with a paired-bootstrap interval and McNemar's exact test. Pure numpy;
deterministic (a fixed seed), so two runs of the same evaluation report the same interval."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

Z95 = 1.959963984540054
BOOTSTRAP_SAMPLES = 10_000
SEED = 0


def wilson(correct: int, total: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of ``correct / total`` (95 % by default); (0, 1) for an empty set."""
    if total <= 0:
        return 0.0, 1.0
    p = correct / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_exact(lost: int, gained: int) -> float:
    """Two-sided exact McNemar p-value: under "no difference", the discordant pairs split 50/50."""
    n = lost + gained
    if n == 0:
        return 1.0
    k = min(lost, gained)
    # log of C(n, i) / 2^n, summed in log space (exact enough for any n, no big integers)
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2) for i in range(k + 1)]
    top = max(logs)
    tail = math.exp(top) * sum(math.exp(v - top) for v in logs)
    return min(1.0, 2 * tail)


@dataclass
class PairedDifference:
    """``candidate − reference`` accuracy on the same inputs. ``gained``: inputs only the candidate got right;
    ``lost``: only the reference. The interval is the paired bootstrap's 2.5 and 97.5 percentiles."""

    delta: float
    low: float
    high: float
    gained: int
    lost: int
    p_value: float
    samples: int
    resamples: int = BOOTSTRAP_SAMPLES

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def paired_difference(reference: np.ndarray, candidate: np.ndarray, resamples: int = BOOTSTRAP_SAMPLES,
                      seed: int = SEED) -> PairedDifference:
    """The difference of two correctness vectors over the same inputs. Resampling inputs with replacement
    only moves the counts of the three kinds of pair (gained, lost, same), so the bootstrap draws those
    counts from a multinomial: the same distribution as resampling indices, at any data size."""
    ref = np.asarray(reference, bool)
    cand = np.asarray(candidate, bool)
    n = len(ref)
    gained = int(np.sum(cand & ~ref))
    lost = int(np.sum(ref & ~cand))
    if n == 0:
        return PairedDifference(0.0, 0.0, 0.0, 0, 0, 1.0, 0, resamples)
    delta = (gained - lost) / n
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, [gained / n, lost / n, (n - gained - lost) / n], size=resamples)
    draws = (counts[:, 0] - counts[:, 1]) / n
    low, high = (float(v) for v in np.percentile(draws, [2.5, 97.5]))
    return PairedDifference(delta, low, high, gained, lost, mcnemar_exact(lost, gained), n, resamples)
