"""Accuracy of a quantized model against its float original on held-out inputs: on the exact QDQ arithmetic of
the CPU (as the HTP computes it, to within one step), and on the NPU of the chosen SoC itself. Every figure comes
from :func:`onnpu.metrics.compare_outputs`, with the task figure of each output (top-1 for class scores, cosine
for embeddings, max/mean error for boxes and pixels)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from onnpu.errors import OnnpuError
from onnpu.metrics import OutputQuality, compare_outputs
from onnpu.model.graphs import producers
from onnpu.model.inspection import tensor_infos
from onnpu.runtime.feeds import run_feeds
from onnpu.runtime.inputs import check_finite
from onnpu.runtime.session import create_session, exact_cpu_session
from onnpu.runtime.targets import Target, get_target

NPU_QUALITY_SAMPLES = 4  # held-out inputs run on the NPU for its quality (the HTP emulator takes ~1-2 s each)

CLASS_OPS = {"Softmax", "LogSoftmax", "Gemm", "Sigmoid"}
EMBEDDING_OPS = {"ReduceMean", "ReduceSum", "Div", "LpNormalization", "GlobalAveragePool", "Flatten"}
CLASS_NAMES = re.compile(r"logit|prob|class|score|label|pred", re.I)
EMBEDDING_NAMES = re.compile(r"embed|pool|sentence|feature|hidden|vector|encod", re.I)


def output_tasks(model: onnx.ModelProto) -> dict[str, str]:
    """What each output is, read from its shape, the op that makes it and its name: ``classes`` (one score per
    class), ``embedding`` (a pooled vector), ``dense`` (boxes, pixels, maps: three or more axes) or ``values``."""
    made_by = producers(model.graph)
    tasks: dict[str, str] = {}
    for info in tensor_infos(model)[1]:
        per_sample = [d for d in info.shape[1:]]
        node = made_by.get(info.name)
        op = node.op_type if node is not None else ""
        if op in ("DequantizeLinear", "QuantizeLinear") and node is not None:  # look through the output's Q/DQ
            inner = made_by.get(node.input[0])
            inner_q = made_by.get(inner.input[0]) if inner is not None and inner.op_type.endswith("Linear") else None
            op = (inner_q or inner).op_type if (inner_q or inner) is not None else op  # type: ignore[union-attr]
        vector = len(per_sample) >= 1 and all(d == 1 for d in per_sample[:-1] if isinstance(d, int)) \
            and (not isinstance(per_sample[-1], int) or per_sample[-1] >= 2)
        if not vector:
            tasks[info.name] = "dense" if len(info.shape) >= 3 else "values"
        elif EMBEDDING_NAMES.search(info.name) or (op in EMBEDDING_OPS and not CLASS_NAMES.search(info.name)):
            tasks[info.name] = "embedding"
        elif CLASS_NAMES.search(info.name) or op in CLASS_OPS or not op:
            tasks[info.name] = "classes"
        else:
            tasks[info.name] = "classes" if op in ("MatMul", "Add") else "values"
    return tasks


def run_on_cpu(model: onnx.ModelProto, feeds: Sequence[Mapping[str, np.ndarray]], *,
               exact: bool) -> dict[str, list[np.ndarray]]:
    """Outputs (dequantized to float) of ``model`` on the CPU for every feed. ``exact`` runs the graph as
    written (QDQ arithmetic exact, as the HTP computes it) instead of the CPU EP's fused integer kernels."""
    session = exact_cpu_session(model) if exact else create_session(model, get_target("cpu"))
    return run_feeds(session, feeds, model="model")


def qualities(reference: Mapping[str, list[np.ndarray]], test: Mapping[str, list[np.ndarray]],
              tasks: Mapping[str, str] | None = None, samples: int | None = None) -> list[OutputQuality]:
    """Every output ``test`` shares with ``reference`` (the first ``samples`` of each), with its task."""
    return [compare_outputs(name, ref[:samples], test[name][:samples], task=(tasks or {}).get(name))
            for name, ref in reference.items() if name in test]


def evaluate(float_model: onnx.ModelProto, quant_model: onnx.ModelProto,
             heldout: Sequence[Mapping[str, np.ndarray]],
             reference: Mapping[str, list[np.ndarray]] | None = None) -> list[OutputQuality]:
    """Every output of the quantized model (exact arithmetic) against the float model's (CPU). ``reference``:
    the float model's outputs on ``heldout`` when already computed (``run_on_cpu(float_model, heldout,
    exact=False)``): evaluating several quantized versions of one model need not rerun it. A NaN or Inf in the
    float outputs is an error (nothing to measure against)."""
    if not heldout:
        return []
    ref = reference if reference is not None else run_on_cpu(float_model, heldout, exact=False)
    check_finite(ref, model="the float model", samples=[f"held-out input {k}" for k in range(len(heldout))])
    test = run_on_cpu(quant_model, heldout, exact=True)
    return qualities(ref, test, output_tasks(float_model))


@dataclass
class NpuQuality:
    """Float model vs the quantized model on the NPU of one SoC (emulated HTP here: exact), per output."""

    target: str
    samples: int
    outputs: list[OutputQuality] = field(default_factory=list)
    placement: str = ""
    problem: str | None = None  # why it could not be measured

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "samples": self.samples, "outputs": [o.to_dict() for o in self.outputs],
                "placement": self.placement, "problem": self.problem}


def quality_on_npu(quant_model: str | Path | onnx.ModelProto, feeds: Sequence[Mapping[str, np.ndarray]],
                   reference: Mapping[str, list[np.ndarray]], target: Target, tasks: Mapping[str, str] | None = None,
                   ) -> NpuQuality:
    """Run ``quant_model`` on ``target`` (the NPU of a SoC) on ``feeds`` and compare with the float outputs
    ``reference`` on the same feeds. A model the NPU cannot load is reported, not raised."""
    try:
        session = create_session(quant_model, target)
        values = run_feeds(session, feeds, model="quantized model")
    except OnnpuError as exc:
        return NpuQuality(target.describe(), 0, problem=exc.message)
    placement = session.placement.headline() if session.placement else ""
    return NpuQuality(target.describe(), len(feeds), qualities(reference, values, tasks, len(feeds)), placement)
