"""Mixed precision: raise activations to uint16 (which the QNN HTP runs, at a cost: twice the bytes to move
and store) until a target SQNR is met, cheapest gain first. Each activation's gain is measured: the output noise
of the 8-bit model with that one activation's quantization taken out (its Q/DQ pair bypassed) against the noise
with all of them in; its cost is its element count. Activations are raised in order of gain per element, in
rounds sized from the measured gains (as shares of the noise) and checked by re-quantizing; a round that misses
the target re-sizes the next from how much of its predicted removal it measured."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import onnx

from onnpu import progress
from onnpu.metrics import OutputQuality, sqnr_db, worst_sqnr
from onnpu.model.graphs import with_outputs
from onnpu.quantization.calibration import CalibrationData, evenly
from onnpu.quantization.config import QuantizeConfig
from onnpu.quantization.evaluate import evaluate
from onnpu.quantization.recipe import quantize_qdq_model

SENSITIVITY_SAMPLES = 4
ROUNDS = 5
MARGIN_DB = 0.5  # a round raises what the measured gains predict reaches the target plus this
GROWTH = 1.25  # a round that misses raises at least this many times more activations the next time
MIN_EFFICIENCY = 0.05


Finish = Callable[[onnx.ModelProto, list[OutputQuality]], tuple[onnx.ModelProto, list[OutputQuality]]]


@dataclass
class Gain:
    """An activation's measured share of the output noise (the 8-bit model's noise less the noise with its
    quantization bypassed, relative to the output energy) and its cost in elements."""

    name: str
    gain: float
    elements: int

    @property
    def per_element(self) -> float:
        return self.gain / max(self.elements, 1)


@dataclass
class MixedPrecisionStep:
    raised: list[str]
    sqnr_db: float


@dataclass
class MixedPrecisionOutcome:
    """The model of the last round (the first that meets the target, or the one with every ranked tensor
    raised), each round, and the quality and 16-bit tensors of that model."""

    model: onnx.ModelProto
    steps: list[MixedPrecisionStep] = field(default_factory=list)
    quality: list[OutputQuality] = field(default_factory=list)
    sixteen_bit: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cost: float | None = None  # share of the activation elements at 16 bits


def _activation_pairs(model: onnx.ModelProto) -> dict[str, list[str]]:
    """Activation tensor → the outputs of the DequantizeLinear nodes that read its QuantizeLinear."""
    constants = {t.name for t in model.graph.initializer}
    quantized = {n.output[0]: n.input[0] for n in model.graph.node
                 if n.op_type == "QuantizeLinear" and n.input[0] not in constants}
    pairs: dict[str, list[str]] = {}
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in quantized:
            pairs.setdefault(quantized[node.input[0]], []).append(node.output[0])
    return pairs


def _bypassed(model: onnx.ModelProto, tensor: str, dequantized: Sequence[str]) -> onnx.ModelProto:
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    names = set(dequantized)
    graph_outputs = {o.name for o in copy.graph.output}
    for node in copy.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            continue
        for k, name in enumerate(node.input):
            if name in names:
                node.input[k] = tensor
    if names & graph_outputs:  # a graph output is this Dequantize: keep it, fed by an Identity of the float
        for node in copy.graph.node:
            if node.op_type == "DequantizeLinear" and node.output[0] in names:
                node.op_type, node.input[:] = "Identity", [tensor]
                del node.attribute[:]
    return copy


def _noise(reference: Mapping[str, list[np.ndarray]], values: Mapping[str, list[np.ndarray]]) -> float:
    """Output noise relative to the output energy, summed over outputs (10^(−SQNR/10) each)."""
    return sum(_relative(sqnr_db(np.concatenate([np.ravel(a) for a in ref]),
                                 np.concatenate([np.ravel(a) for a in values[name]])))
               for name, ref in reference.items())


def _relative(sqnr: float) -> float:
    """Noise relative to signal; an output with no signal counts as 1e30 (finite, so gains stay numbers)."""
    return float(10 ** (-max(sqnr, -300.0) / 10))


def _elements(values: Mapping[str, list[np.ndarray]]) -> dict[str, int]:
    return {name: int(np.asarray(v[0]).size) for name, v in values.items() if v}


def _float_names(float_model: onnx.ModelProto) -> set[str]:
    return {o for n in float_model.graph.node for o in n.output} | {i.name for i in float_model.graph.input}


def _override_name(tensor: str, float_names: set[str]) -> str | None:
    """The quantizer's name of a quantized activation, as a 16-bit override must name it (a graph output's Q reads a
    renamed copy); None for a tensor the float model does not have."""
    name = tensor if tensor in float_names else tensor.removesuffix("_QuantizeLinear_Input")
    return name if name in float_names else None


def quantized_activations(float_model: onnx.ModelProto, quant_model: onnx.ModelProto) -> list[str]:
    """Every activation ``quant_model`` (a QDQ model of ``float_model``) quantizes, by the names 16-bit overrides
    take: raising them all is W8A16."""
    float_names = _float_names(float_model)
    return [n for t in _activation_pairs(quant_model) if (n := _override_name(t, float_names)) is not None]


def measured_gains(float_model: onnx.ModelProto, quant_model: onnx.ModelProto,
                   feeds: Sequence[Mapping[str, np.ndarray]], jobs: int = 1) -> tuple[list[Gain], float]:
    """Per activation of ``quant_model`` (a QDQ model): the output noise without its quantization, and its element
    count; and the noise with every activation quantized. Exact CPU arithmetic on ``feeds``; ``jobs`` bypassed
    models at a time, each session on one thread (opening a session is most of the time, and one thread each)."""
    from onnpu.quantization.evaluate import run_on_cpu
    from onnpu.runtime.feeds import run_feeds
    from onnpu.runtime.session import exact_cpu_session

    reference = run_on_cpu(float_model, feeds, exact=False)
    noise = _noise(reference, run_on_cpu(quant_model, feeds, exact=True))
    pairs = _activation_pairs(quant_model)
    sizes = _elements(run_on_cpu(with_outputs(quant_model, pairs), feeds[:1], exact=True))  # the element counts
    float_names = _float_names(float_model)
    named = [(tensor, dequantized, name) for tensor, dequantized in pairs.items()
             if (name := _override_name(tensor, float_names)) is not None]

    def bypassed(item: tuple[str, list[str], str]) -> Gain:
        tensor, dequantized, name = item
        session = exact_cpu_session(_bypassed(quant_model, tensor, dequantized), threads=1 if jobs > 1 else None)
        values = run_feeds(session, feeds, model="model")
        return Gain(name, max(noise - _noise(reference, values), 0.0), sizes.get(tensor, 1))

    gains = []
    with ThreadPoolExecutor(max(1, jobs)) as pool:  # onnxruntime releases the GIL while it loads and runs
        for index, gain in enumerate(pool.map(bypassed, named), 1):
            progress.advance("measuring 16-bit gains", index, len(named))
            gains.append(gain)
    return gains, noise


def _cumulative_shares(ranked: Sequence[Gain]) -> list[float]:
    """The share of the summed gains of the first k ranked activations, for each k. The measured gains are not
    additive (on MobileNetV2 they sum to 2.4 times the whole noise: each activation's rounding interacts with the
    next), so they predict shares of the noise, not amounts."""
    total = sum(g.gain for g in ranked)
    if total <= 0:
        return [0.0] * len(ranked)
    out, running = [], 0.0
    for g in ranked:
        running += g.gain
        out.append(running / total)
    return out


def _needed(shares: Sequence[float], start: float, goal: float, efficiency: float) -> int:
    """The fewest ranked activations whose shares, at the measured efficiency, bring ``start`` noise to ``goal``."""
    for k, share in enumerate(shares, 1):
        if start * (1 - efficiency * share) <= goal:
            return k
    return len(shares)


def raise_to_target(float_model: onnx.ModelProto, quant: onnx.ModelProto, data: CalibrationData,
                    config: QuantizeConfig, target: float, quality: Sequence[OutputQuality], *,
                    reference: Mapping[str, list[np.ndarray]] | None = None, keep: Sequence[str] = (),
                    finish: Finish | None = None, jobs: int = 1) -> MixedPrecisionOutcome:
    """Rounds over the activations ranked by measured gain per element, raising to uint16 as many as the gains
    predict reach ``target`` (then as many as the last round's measurement predicts, …, all) until the held-out
    SQNR meets it (``quality``: the plain model's, after ``finish``; ``quant``: the plain model before it;
    ``reference``: the float outputs on the held-out inputs, as for ``evaluate``; ``finish``: the rest of the recipe,
    applied to every round). ``keep``: activations ``quant`` already holds in 16 bits (a detection head's), kept in
    16 bits in every round."""
    outcome = MixedPrecisionOutcome(quant, quality=list(quality), sixteen_bit=list(keep))
    if config.activations == "u16":
        outcome.notes.append("activations are already 16-bit: --target-sqnr has nothing to raise")
        return outcome
    if quality and worst_sqnr(quality) >= target:
        outcome.notes.append(f"plain quantization already meets {target} dB")
        return outcome
    gains, noise = measured_gains(float_model, quant, evenly(data.calibration, SENSITIVITY_SAMPLES),
                                   jobs=jobs)
    ranked = sorted((g for g in gains if g.name not in keep), key=lambda g: -g.per_element)
    total_elements = sum(g.elements for g in gains) or 1
    goal = 10 ** (-(target + MARGIN_DB) / 10) * max(len(quality), 1)  # relative noise, summed over outputs
    start = sum(_relative(q.sqnr_db) for q in quality) if quality else noise  # the plain model's, finished
    shares = _cumulative_shares(ranked)
    efficiency = 1.0  # of the removal the shares predict, the part a round measured
    count = 0
    for round_index in range(1, ROUNDS + 1):
        needed = _needed(shares, start, goal, efficiency)
        count = len(ranked) if round_index == ROUNDS else \
            min(len(ranked), max(needed, math.ceil(count * GROWTH), count + 1))
        raised = [*keep, *(g.name for g in ranked[:count])]
        progress.advance("mixed precision", round_index, ROUNDS)
        candidate = quantize_qdq_model(float_model, data.calibration, config, sixteen_bit=raised)
        round_quality = evaluate(float_model, candidate, data.heldout, reference)
        if finish is not None:  # the rest of the recipe (range search, optimised rounding): judged on its result
            candidate, round_quality = finish(candidate, round_quality)
        worst = worst_sqnr(round_quality)
        outcome.steps.append(MixedPrecisionStep(raised, worst))
        outcome.model, outcome.quality, outcome.sixteen_bit = candidate, round_quality, raised
        if worst >= target or count == len(ranked):
            break
        measured = sum(_relative(q.sqnr_db) for q in round_quality)
        if count and shares[count - 1] > 0:  # re-predict from what this round removed of what it was predicted to
            efficiency = min(max((start - measured) / (start * shares[count - 1]), MIN_EFFICIENCY), 1.0)
    sizes = {g.name: g.elements for g in gains}
    outcome.cost = sum(sizes.get(n, 0) for n in outcome.sixteen_bit) / total_elements
    outcome.notes.append(f"16-bit activations: {len(outcome.sixteen_bit)} of {len(gains)}, "
                         f"{outcome.cost:.0%} of the activation elements (ranked by measured gain per element)")
    if worst_sqnr(outcome.quality) < target:
        outcome.notes.append(f"target {target} dB not reached: {worst_sqnr(outcome.quality):.2f} dB with "
                             f"{len(outcome.sixteen_bit)} of {len(ranked) + len(keep)} activations at 16 bits")
    return outcome
