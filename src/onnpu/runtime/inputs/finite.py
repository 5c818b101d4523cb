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
    constant = _constant_not_finite(model)
    if constant is not None:  # not the inputs: the model's own weights are NaN or Inf
        hint = f"the model's constant {constant!r} itself holds NaN or Inf: the file is damaged; export it again"
    raise RunError(f"{model}: output {name!r} has {bad} NaN/Inf value(s) on {sample}: nothing to verify against",
                   hint=hint)


def _constant_not_finite(model: str) -> str | None:
    """The first initializer of the model file ``model`` names (its path, before any " (…)" said after it) that
    holds NaN or Inf; None when there is none, or the file cannot be read here (weights in external data are not
    read: only the failure path looks)."""
    from pathlib import Path

    from onnpu.model import proto

    path = Path(model.split(" (")[0])
    try:
        if path.suffix.lower() != ".onnx" or not path.is_file():
            return None
        graph = proto.load_model(path).graph
    except Exception:  # the error being raised is the one to show
        return None
    for tensor in graph.initializer:
        if tensor.data_location == 1:  # EXTERNAL
            continue
        try:
            values = proto.to_array(tensor)
        except Exception:
            continue
        if np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
            return str(tensor.name)
    return None

