"""The noise budget of a quantized model: from the per-tensor sums, each layer's own noise (its float op run on
the quantized model's inputs against the quantized output), the gain with which it passes its inputs' noise
on (measured the same way), and from both, walking the graph back from the outputs, each layer's estimated
share of the noise at the outputs — which ranks the layers that cause the loss above those that inherit it."""

from __future__ import annotations

import math

from onnpu.measure.layers.advice import cause
from onnpu.measure.layers.graph import LayerPlan
from onnpu.measure.layers.result import DeviceRow, LayerRow, lost_db
from onnpu.measure.layers.stats import DeviceStats, DriftStats
from onnpu.metrics import ratio_db


def _inputs_nsr(stats: dict[str, DriftStats], inputs: tuple[str, ...]) -> tuple[float | None, float, float]:
    """(input SQNR, noise-to-signal ratio of the inputs together, their signal)."""
    ins = [stats[i] for i in inputs if i in stats]
    if not ins:
        return None, 0.0, 0.0
    signal, noise = sum(x.signal for x in ins), sum(x.noise for x in ins)
    return ratio_db(signal, noise), (noise / signal if signal > 0 else 0.0), signal


def output_gains(plan: LayerPlan, stats: dict[str, DriftStats]) -> dict[str, float]:
    """How much of a tensor's noise-to-signal ratio reaches the outputs (summed over outputs), assuming noise
    from different layers adds up in power: G(L) = [L is an output] + Σ over consumers S of
    g_S · signal_L / Σ signal of S's inputs · G(S), with g_S the measured gain of S's float op on its inputs'
    noise (1 where its inputs carry none)."""
    consumers: dict[str, list[str]] = {}
    for t in plan.tensors:
        for i in t.inputs:
            consumers.setdefault(i, []).append(t.name)
    gains: dict[str, float] = {}
    edge: dict[str, float] = {}
    for t in plan.tensors:
        s = stats[t.name]
        _, in_nsr, in_signal = _inputs_nsr(stats, t.inputs)
        passed = s.share(s.passed_noise)
        g = passed / in_nsr if passed is not None and in_nsr > 0 else 1.0
        edge[t.name] = g / in_signal if in_signal > 0 else 0.0
    for t in reversed(plan.tensors):
        total = 1.0 if t.is_output else 0.0
        for c in consumers.get(t.name, ()):
            total += edge[c] * stats[t.name].signal * gains.get(c, 0.0)
        gains[t.name] = total
    return gains


def rows_from(plan: LayerPlan, stats: dict[str, DriftStats], device: dict[str, DeviceStats],
              alone: dict[str, DeviceStats] | None = None) -> list[LayerRow]:
    gains = output_gains(plan, stats) if stats else {}
    rows: list[LayerRow] = []
    made: dict[int, float] = {}
    rounded: dict[int, float] = {}
    for t in plan.tensors:
        row = LayerRow(t.index, t.name, t.node, t.op, list(t.inputs), list(t.shape) if t.shape else None,
                       t.quant.dtype if t.quant else "float", t.quant.scale[0] if t.quant else None, t.is_output)
        s = stats.get(t.name)
        if s is not None and s.samples:
            row.input_sqnr_db, _, _ = _inputs_nsr(stats, t.inputs)
            row.sqnr_db = s.sqnr_db
            row.lost_db = lost_db(row.input_sqnr_db, s.sqnr_db)
            own = s.local_noise if s.local_noise is not None else s.noise  # a graph input: all its own
            row.layer_sqnr_db = ratio_db(s.signal, own)
            made[t.index] = _reaching(s.share(own), gains[t.name])
            rounded[t.index] = _reaching(s.share(s.rounding_noise), gains[t.name])
            row.cosine, row.max_abs_error, row.max_error_steps = s.cosine, s.max_abs, s.max_steps
            row.rounding_sqnr_db = ratio_db(s.signal, s.rounding_noise) if t.pre_quant else None
            row.clipped_fraction = s.clipped / s.elements if t.quant is not None and s.elements else None
            row.cause = cause(own, s.rounding_noise, s.clipping_noise)
        d = device.get(t.name)
        if d is not None and d.samples:
            row.device = DeviceRow(d.max_steps, d.differing / max(d.elements, 1), d.beyond_one / max(d.elements, 1),
                                   d.sqnr_db)
            a = (alone or {}).get(t.name)
            if a is not None and a.samples:
                row.device.alone_max_steps = a.max_steps
                row.device.alone_beyond_one_fraction = a.beyond_one / max(a.elements, 1)
        rows.append(row)
    total = sum(made.values())
    for index, value in made.items():
        rows[index].noise_share = value / total if total > 0 else 0.0
        rows[index].rounding_share = rounded[index] / total if total > 0 else 0.0
    return rows


def budget_explains(stats: dict[str, DriftStats], plan: LayerPlan) -> float | None:
    """Σ of the layers' estimated output noise over the measured output noise (1.0 = the budget adds up)."""
    gains = output_gains(plan, stats)
    estimated = 0.0
    for t in plan.tensors:
        s = stats[t.name]
        own = s.local_noise if s.local_noise is not None else s.noise
        estimated += _reaching(s.share(own), gains[t.name])
    measured = sum(stats[t.name].nsr for t in plan.tensors if t.is_output)
    explained = estimated / measured if measured > 0 else None
    return explained if explained is not None and math.isfinite(explained) else None


def _reaching(share: float | None, gain: float) -> float:
    """The output noise a layer's own noise (``share`` of its signal) makes through ``gain``: none when nothing
    reaches the output (a zero gain times an infinite share — noise on a zero signal, e.g. a one-hot's zeros)."""
    if not share or not gain:
        return 0.0
    made = share * gain
    return made if math.isfinite(made) else 0.0
