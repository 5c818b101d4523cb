"""Accuracy of a quantized model against its float original on held-out inputs, on the exact QDQ
arithmetic (as the HTP computes it, to within one step)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import onnx

from onnpu.metrics import OutputQuality, compare_outputs
from onnpu.runtime.feeds import run_feeds
from onnpu.runtime.session import create_session, exact_cpu_session
from onnpu.runtime.targets import get_target


def run_on_cpu(model: onnx.ModelProto, feeds: Sequence[Mapping[str, np.ndarray]], *,
               exact: bool) -> dict[str, list[np.ndarray]]:
    """Outputs (dequantized to float) of ``model`` on the CPU for every feed. ``exact`` runs the graph as
    written (QDQ arithmetic exact, as the HTP computes it) instead of the CPU EP's fused integer kernels."""
    session = exact_cpu_session(model) if exact else create_session(model, get_target("cpu"))
    return run_feeds(session, feeds, model="model")


def evaluate(float_model: onnx.ModelProto, quant_model: onnx.ModelProto,
             heldout: Sequence[Mapping[str, np.ndarray]],
             reference: Mapping[str, list[np.ndarray]] | None = None) -> list[OutputQuality]:
    """Every output of the quantized model (exact arithmetic) against the float model's (CPU). ``reference``:
    the float model's outputs on ``heldout`` when already computed (``run_on_cpu(float_model, heldout,
    exact=False)``): evaluating several quantized versions of one model need not rerun it."""
    if not heldout:
        return []
    ref = reference if reference is not None else run_on_cpu(float_model, heldout, exact=False)
    test = run_on_cpu(quant_model, heldout, exact=True)
    return [compare_outputs(name, ref[name], test[name]) for name in ref if name in test]
