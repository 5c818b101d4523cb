"""The statistics of ``onnpu eval`` against their definitions: McNemar's exact test as a binomial tail summed
with integers, the multinomial paired bootstrap against resampling inputs one by one, Wilson's interval."""

from __future__ import annotations

import math

import numpy as np
import pytest

from onnpu.evaluation.stats import mcnemar_exact, paired_difference, wilson


@pytest.mark.parametrize("lost, gained", [(0, 0), (0, 5), (3, 9), (10, 10), (40, 61), (700, 760)])
def test_mcnemar_is_the_exact_binomial_tail(lost: int, gained: int) -> None:
    n, k = lost + gained, min(lost, gained)
    exact = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n) if n else 1.0
    assert mcnemar_exact(lost, gained) == pytest.approx(exact, rel=1e-9)
    assert mcnemar_exact(gained, lost) == mcnemar_exact(lost, gained)


def test_paired_bootstrap_matches_resampling_inputs() -> None:
    rng = np.random.default_rng(7)
    ref = rng.random(400) < 0.8
    cand = ref.copy()
    flip = rng.choice(400, 40, replace=False)
    cand[flip[:28]] = False  # lost where the reference was right (or stays wrong)
    cand[flip[28:]] = True
    d = paired_difference(ref, cand)
    assert d.delta == pytest.approx(cand.mean() - ref.mean())
    assert d.gained == int(np.sum(cand & ~ref)) and d.lost == int(np.sum(ref & ~cand))
    idx = np.random.default_rng(1).integers(0, 400, (4000, 400))  # the textbook bootstrap, index by index
    draws = cand[idx].mean(axis=1) - ref[idx].mean(axis=1)
    low, high = np.percentile(draws, [2.5, 97.5])
    assert d.low == pytest.approx(low, abs=0.006) and d.high == pytest.approx(high, abs=0.006)
    assert paired_difference(ref, cand) == d  # deterministic


def test_identical_answers_have_no_difference() -> None:
    ref = np.array([True, False, True])
    d = paired_difference(ref, ref)
    assert (d.delta, d.low, d.high, d.p_value) == (0.0, 0.0, 0.0, 1.0)


def test_wilson_interval() -> None:
    low, high = wilson(81, 100)
    assert low == pytest.approx(0.7222, abs=1e-4) and high == pytest.approx(0.8749, abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0) and wilson(10, 10)[1] == pytest.approx(1.0)
