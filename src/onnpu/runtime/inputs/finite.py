"""A NaN or Inf in a verified output is an error that names the output and the input that produced it, never a
pass: comparisons of non-finite numbers say nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from onnpu.errors import RunError


def first_non_finite(outputs: Mapping[str, Sequence[np.ndarray]]) -> tuple[str, int, int] | None:
    """(output name, sample index, count of non-finite values) of the first output with a NaN or Inf."""
    for name, values in outputs.items():
        for k, value in enumerate(values):
            v = np.asarray(value)
            if np.issubdtype(v.dtype, np.floating):
                bad = int(v.size - np.count_nonzero(np.isfinite(v)))
                if bad:
                    return name, k, bad
    return None


def check_finite(outputs: Mapping[str, Sequence[np.ndarray]], *, model: str,
                 samples: Sequence[str] | None = None, inputs: str = "") -> None:
    """Raise when any output of ``model`` holds NaN or Inf; the message names the output and the input sample
    (``samples[k]``, else ``input k``) that produced it. ``inputs``: how the inputs were made (the random
    kinds), said in the hint."""
    found = first_non_finite(outputs)
    if found is None:
        return
    name, k, bad = found
    sample = samples[k] if samples is not None and k < len(samples) else f"input {k}"
    hint = ("the inputs may be out of the range the model expects: give real inputs, or set an input's range "
            "with --input-range NAME=LO,HI or a constant with --input-value NAME=V")
    if inputs:
        hint += f" (random inputs were: {inputs})"
    raise RunError(f"{model}: output {name!r} has {bad} NaN/Inf value(s) on {sample}: nothing to verify against",
                   hint=hint)
