"""Optimised weight rounding that never loses to nearest rounding. Layers are taken in waves, in graph order:
each wave's statistics come from the model as the waves before it left it, so every layer is rounded against
the quantized inputs it will really receive (sequential rounding), and against the float outputs it should
give. Per layer the candidates (nearest, nearest with the bias shift, optimised) are measured on check inputs
that chose nothing, and the lowest error is kept. Scales and zero points stay exactly as the QNN recipe chose
them: the same QDQ layout, better integers (and biases)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np
import onnx
from onnx import numpy_helper

from onnpu import progress
from onnpu.metrics import worst_sqnr
from onnpu.model.graphs import topological_nodes
from onnpu.quantization.rounding_solve import candidates, from_rows
from onnpu.quantization.rounding_stats import Layer, PairStats, collect_pairs, find_layers

WAVES = 1  # statistics are re-collected this many times, each wave after the waves before it were rounded
AGAINST_FLOAT = False  # fit towards the float layer's output on its float input (else: on the quantized input)
CHECK_EVERY = 4  # every 4th rounding input measures the candidates instead of fitting them
MIN_SAMPLES = 8  # inputs the statistics get however large the model
# Multiply-adds the layer statistics may take in all (a count, so the model onnpu makes is the same on every
# machine, busy or idle): ≈ 10 s of products on one core of the x86_64 machine measured (EfficientNet-Lite0: 1.3e9
# per input, so 30 inputs); a model whose inputs cost more gets fewer of them (at least MIN_SAMPLES).
WORK_BUDGET = 4.0e10


@dataclass
class LayerReport:
    name: str
    op_type: str
    rows: int
    columns: int
    groups: int
    error_nearest: float  # Σ ‖W x − Ŵ x̃‖² on the check inputs, nearest rounding as the recipe made it
    error_optimized: float  # the same for the rounding kept (≤ error_nearest)
    bias_corrected: bool
    choice: str = "nearest"  # nearest, nearest+bias, optimized
    output_energy: float = 0.0  # Σ ‖W x‖² there: errors relative to it

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class RoundingReport:
    method: str
    samples: int
    seconds: float
    layers: list[LayerReport]
    waves: int = 1
    work_budget: float | None = None  # multiply-adds the statistics could take (None: every input)
    notes: list[str] = field(default_factory=list)
    check_sqnr: tuple[float, float] | None = None  # worst output SQNR on the check inputs: as given, rounded

    @property
    def improvement(self) -> float:
        near = sum(r.error_nearest for r in self.layers)
        opt = sum(r.error_optimized for r in self.layers)
        return near / opt if opt > 0 else float("inf")

    @property
    def kept_nearest(self) -> int:
        """Layers whose integer weights stayed as nearest rounding made them (measured better, or not reached)."""
        return sum(r.choice != "optimized" for r in self.layers)

    def to_dict(self) -> dict[str, object]:
        return {"method": self.method, "samples": self.samples, "seconds": self.seconds, "waves": self.waves,
                "work_budget": self.work_budget, "improvement": self.improvement,
                "kept_nearest": self.kept_nearest, "notes": self.notes,
                "check_sqnr_db": list(self.check_sqnr) if self.check_sqnr else None,
                "layers": [r.to_dict() for r in self.layers]}


def _float_weights(float_model: onnx.ModelProto, layers: Sequence[Layer]) -> dict[str, np.ndarray]:
    """The float weights behind each quantized weight (ONNX Runtime names it ``<float name>_quantized``)."""
    wanted = {layer.weight.removesuffix("_quantized"): layer.weight for layer in layers}
    found = {}
    for t in float_model.graph.initializer:
        if t.name in wanted:
            found[wanted[t.name]] = numpy_helper.to_array(t)
    return found


def _waves(layers: Sequence[Layer], model: onnx.ModelProto, count: int) -> list[list[Layer]]:
    """Layers in graph order, cut into ``count`` consecutive waves of about equal size."""
    order = {id(n): i for i, n in enumerate(topological_nodes(model.graph))}
    position = {n.name or n.output[0]: order.get(id(n), 0) for n in model.graph.node}
    ranked = sorted(layers, key=lambda layer: position.get(layer.name, 0))
    count = max(1, min(count, len(ranked)))
    bounds = np.linspace(0, len(ranked), count + 1).round().astype(int)
    return [ranked[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def _apply(layer: Layer, inits: Mapping[str, onnx.TensorProto], q: np.ndarray, shift: np.ndarray | None) -> bool:
    """Write the integer weights (and the bias shift, in bias steps) into the model; True if the bias moved."""
    inits[layer.weight].CopyFrom(numpy_helper.from_array(q.astype(layer.dtype), layer.weight))
    if shift is None or layer.bias is None or layer.bias_scale is None:
        return False
    original = numpy_helper.to_array(inits[layer.bias])
    step = np.broadcast_to(layer.bias_scale, original.shape)
    corrected = original.astype(np.int64) + np.rint(shift / step).astype(np.int64)
    info = np.iinfo(original.dtype)
    inits[layer.bias].CopyFrom(numpy_helper.from_array(np.clip(corrected, info.min, info.max).astype(original.dtype),
                                                       layer.bias))
    return True


def _worst_sqnr(float_model: onnx.ModelProto, model: onnx.ModelProto,
                feeds: Sequence[Mapping[str, np.ndarray]], reference: Mapping[str, list[np.ndarray]]) -> float:
    from onnpu.quantization.evaluate import evaluate

    return worst_sqnr(evaluate(float_model, model, feeds, reference))


def optimize_rounding(model: onnx.ModelProto, float_model: onnx.ModelProto,
                      feeds: Sequence[Mapping[str, np.ndarray]], *, bias_correction: bool = True, jobs: int = 1,
                      waves: int = WAVES, work_budget: float | None = WORK_BUDGET, against_float: bool = AGAINST_FLOAT
                      ) -> tuple[onnx.ModelProto, RoundingReport]:
    """Re-round the integer weights of every Conv/ConvTranspose/Gemm/MatMul of a QDQ model (pure: returns a new
    model). Every 4th input is a check input: it measures the candidates of each layer and, at the end, the
    whole model against the model as given (kept when the rounded one is not better there). Statistics are
    collected on as many inputs as ``work_budget`` multiply-adds allow (at least 8; None: every input): a count,
    never a clock, so the result is the same on every machine."""
    from onnpu.quantization.evaluate import run_on_cpu

    start = time.perf_counter()
    result = onnx.ModelProto()
    result.CopyFrom(model)
    weights = _float_weights(float_model, find_layers(result))
    layers = [layer for layer in find_layers(result) if layer.weight in weights]  # others keep nearest rounding
    flagged = [(f, len(feeds) >= CHECK_EVERY and k % CHECK_EVERY == CHECK_EVERY - 1) for k, f in enumerate(feeds)]
    inits = {t.name: t for t in result.graph.initializer}
    reports: dict[str, LayerReport] = {}
    planned = _waves(layers, result, waves)
    done = 0
    used = 0
    for wave in planned:
        share = None if work_budget is None else work_budget / len(planned)
        reached = [len(flagged)]

        def stop(k: int, work: float, share: float | None = share, reached: list[int] = reached) -> bool:
            over = share is not None and k >= MIN_SAMPLES and work * (k + 1) / k > share
            if over:
                reached[0] = k
            return over

        stats = collect_pairs(result, float_model, wave, flagged, against_float=against_float, stop=stop)
        used = max(used, reached[0])

        def work(layer: Layer, stats: Mapping[str, tuple[PairStats, PairStats | None]] = stats
                 ) -> tuple[Layer, LayerReport, np.ndarray, np.ndarray | None]:
            fit_s, check_s = stats[layer.name]
            found, energy = candidates(layer, weights[layer.weight], fit_s, check_s, bias_correction=bias_correction)
            best = min(found, key=lambda c: c.error)  # the first (nearest) wins ties
            q = from_rows(layer, best.q, weights[layer.weight].shape)
            choice = best.name
            row = LayerReport(layer.name, layer.node.op_type, best.q.shape[0], best.q.shape[1], layer.groups,
                              found[0].error, best.error, False, choice, energy)
            return layer, row, q, best.shift

        with ThreadPoolExecutor(max(1, jobs)) as pool:  # numpy/BLAS release the GIL
            for layer, row, q, shift in pool.map(work, wave):
                row.bias_corrected = _apply(layer, inits, q, shift)
                reports[layer.name] = row
                done += 1
                progress.advance("rounding", done, len(layers))
    ordered = [reports[layer.name] for wave in planned for layer in wave]
    report = RoundingReport("gptq", used, 0.0, ordered, len(planned), work_budget)
    if not layers:
        report.notes.append("no layer to re-round: no Conv/Gemm/MatMul with constant float weights (weights kept "
                            "in another type, e.g. float16, or computed) — nearest rounding as the recipe made it")
    elif used < len(flagged):
        report.notes.append(f"rounding statistics from {used} of {len(flagged)} inputs (the work budget of "
                            f"{work_budget:.2g} multiply-adds)")
    check = [f for f, is_check in flagged if is_check]
    if check and any(r.choice != "nearest" for r in ordered):
        reference = run_on_cpu(float_model, check, exact=False)
        before, after = _worst_sqnr(float_model, model, check, reference), _worst_sqnr(float_model, result, check,
                                                                                         reference)
        report.check_sqnr = (before, after)
        if not after > before:
            report.notes.append(f"the rounded model was not better on the check inputs ({after:.2f} dB against "
                                f"{before:.2f} dB): nearest rounding kept for every layer")
            for r in ordered:
                r.choice = "nearest"
                r.error_optimized = r.error_nearest
            result = model
    report.seconds = time.perf_counter() - start
    return result, report
