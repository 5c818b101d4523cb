"""A classifier's output as class scores, decided once per model from its graph.

- Which output: the one that is a class vector (``[N, C]``, ``[N, C, 1, 1]``, ``[C]``, ``[N, 1, C]``), or the
  one named.
- What it holds: an output produced by ``Softmax`` (``LogSoftmax``) — directly or through QuantizeLinear /
  DequantizeLinear / Reshape / Flatten / Squeeze / Unsqueeze / Identity / Transpose — holds probabilities
  (log-probabilities); anything else holds logits. Never guessed from the values of one image: a quantized
  softmax output (uint8, scale 1/256) does not sum to exactly 1, and logits can look like probabilities.
- Quantized outputs are dequantized with their own parameters first; then softmax for logits and
  log-probabilities (for log-probabilities it is their exponential), none for probabilities. ``softmax=True``
  / ``False`` overrides the decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from onnpu.errors import InputDataError
from onnpu.model.graphs import producers
from onnpu.model.inspection import Dim, TensorInfo
from onnpu.model.qparams import dequantize

if TYPE_CHECKING:
    import onnx

ScoreKind = Literal["probabilities", "log-probabilities", "logits"]
# ops that carry a tensor's values through unchanged (up to layout or quantization)
PASS_THROUGH = frozenset({"QuantizeLinear", "DequantizeLinear", "Reshape", "Flatten", "Squeeze", "Unsqueeze",
                          "Identity", "Transpose"})
LAYOUTS = "[N, C], [N, C, 1, 1], [C] or [N, 1, C]"


def softmax(v: np.ndarray) -> np.ndarray:
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def output_kind(graph: onnx.GraphProto, output: str) -> tuple[ScoreKind, str | None]:
    """What ``output`` holds, from the graph: walk back through value-preserving ops to a Softmax or
    LogSoftmax. Returns the kind and the name of the node that decided it (None for logits)."""
    producer = producers(graph)
    current, seen = output, set()
    while current in producer and current not in seen:
        seen.add(current)
        node = producer[current]
        if node.op_type == "Softmax":
            return "probabilities", node.name or node.op_type
        if node.op_type == "LogSoftmax":
            return "log-probabilities", node.name or node.op_type
        if node.op_type not in PASS_THROUGH or not node.input:
            break
        current = node.input[0]
    return "logits", None


def class_axis(shape: Sequence[Dim]) -> int | None:
    """The class axis of a class-vector shape (``[C]``: 0; ``[N, C]``, ``[N, C, 1, 1]``: 1; ``[N, 1, C]``: 2),
    or None when the shape is not one (axis 0 of a rank ≥ 2 shape is the batch; every other axis but the
    class axis must be 1). Unknown dims count as "not 1"."""
    if len(shape) == 1:
        return 0
    if len(shape) < 2:
        return None
    wide = [i for i, d in enumerate(shape) if i > 0 and d != 1]
    return wide[0] if len(wide) == 1 else None


@dataclass
class ScoreReader:
    """How one model's output becomes class scores: chosen once per model, applied to every run."""

    output: TensorInfo
    kind: ScoreKind
    decided_by: str | None
    apply_softmax: bool
    axis: int | None  # None until the first output is seen (the static shape did not tell)
    model: str = ""

    @property
    def dequantizes(self) -> bool:
        return not np.issubdtype(self.output.numpy_dtype, np.floating)

    def describe(self) -> str:
        source = f"from {self.decided_by}" if self.decided_by else "no Softmax/LogSoftmax produces it"
        done = "softmax applied" if self.apply_softmax else "no softmax"
        return f"output {self.output.name!r} holds {self.kind} ({source}): {done}"

    def rows(self, raw: np.ndarray) -> np.ndarray:
        """Scores ``[rows, classes]`` (one row per batch item) from one run's raw output."""
        values = np.asarray(raw)
        if not np.issubdtype(values.dtype, np.floating):
            if self.output.quant is None:
                raise InputDataError(f"{self.model}: output {self.output.name!r} is {values.dtype} but the model "
                                     "carries no quantization parameters for it",
                                     hint="re-export the model with its output DequantizeLinear")
            values = dequantize(values, self.output.quant)
        if self.axis is None:
            self.axis = class_axis(values.shape)
            if self.axis is None:
                raise InputDataError(f"{self.model}: output {self.output.name!r} has shape {list(values.shape)}, "
                                     f"not a class vector ({LAYOUTS})",
                                     hint="name the classifier's output with --output-name, or use `onnpu run`")
        classes = values.shape[self.axis]
        if not classes or not values.size:
            raise InputDataError(f"{self.model}: output {self.output.name!r} is empty (shape {list(values.shape)}): "
                                 "no class scores to rank", hint="check the model with `onnpu run MODEL --random`")
        scores = np.moveaxis(values, self.axis, -1).reshape(-1, classes).astype(np.float32)
        return softmax(scores) if self.apply_softmax else scores


def score_reader(proto: onnx.ModelProto, outputs: Sequence[TensorInfo], *, output: str | None = None,
                 use_softmax: bool | None = None, model: str = "") -> ScoreReader:
    """Decide, from the graph, which output holds the class scores and what it holds."""
    if output:
        chosen = next((o for o in outputs if o.name == output), None)
        if chosen is None:
            raise InputDataError(f"{model}: no output named {output!r}",
                                 hint="outputs: " + ", ".join(o.name for o in outputs))
    else:
        vectors = [o for o in outputs if class_axis(o.shape) is not None]
        if len(vectors) > 1:  # several: the ones a Softmax / LogSoftmax produces are the scores
            vectors = [o for o in vectors if output_kind(proto.graph, o.name)[0] != "logits"] or vectors
        listed = ", ".join(f"{o.name} {o.shape_text()}" for o in outputs)
        if len(outputs) == 1:
            chosen = outputs[0]
        elif len(vectors) == 1:
            chosen = vectors[0]
        elif vectors:
            raise InputDataError(f"{model}: several outputs could be the class scores: {listed}",
                                 hint="name the classifier's output with --output-name")
        else:
            raise InputDataError(f"{model}: none of the outputs is a class vector ({LAYOUTS}): {listed}",
                                 hint="name the classifier's output with --output-name")
    kind, decided_by = output_kind(proto.graph, chosen.name)
    apply = kind != "probabilities" if use_softmax is None else use_softmax
    return ScoreReader(chosen, kind, decided_by, apply, class_axis(chosen.shape), model)
