"""The arithmetic of optimised rounding for one layer. The layer should give, on its *quantized* input x̃, what
the float layer gives on its *float* input x: the integer weights Ŵ (and a bias shift s) minimise
Σ ‖W x − Ŵ x̃ − s‖². The unconstrained best weights are W' = W C H̃⁻¹ (C = Σ x x̃ᵀ, H̃ = Σ x̃x̃ᵀ); the
integers are found from W' by second-order rounding (GPTQ/OBQ: columns one at a time, each column's rounding
error spread over the columns not yet quantized, weighted by H̃⁻¹). Candidates — nearest, nearest with the bias
shift, optimised — are measured on check inputs that did not choose them, and the lowest error is kept."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from onnpu.quantization.rounding_stats import Layer, PairStats

DAMPING = 0.01  # of the mean diagonal, added to the covariance (it is rank-deficient with few samples)
BLOCK = 128
REFINE_PASSES = 4  # local-search passes over the columns after second-order rounding


def _quant(w: np.ndarray, scale: np.ndarray, zp: np.ndarray, lo: int, hi: int) -> np.ndarray:
    return np.clip(np.rint(w / scale) + zp, lo, hi)


def gptq(w: np.ndarray, h: np.ndarray, scale: np.ndarray, zp: np.ndarray, lo: int, hi: int,
         act_order: bool = True) -> np.ndarray:
    """Integer weights for rows ``w`` [rows, d] sharing the input covariance ``h`` [d, d]."""
    w = w.astype(np.float64).copy()
    h = h.astype(np.float64).copy()
    d = w.shape[1]
    dead = np.diag(h) <= 0
    h[dead, dead] = 1.0
    perm = np.argsort(-np.diag(h), kind="stable") if act_order else np.arange(d)
    w, h = w[:, perm], h[np.ix_(perm, perm)]
    h[np.diag_indices(d)] += DAMPING * np.mean(np.diag(h))
    hinv = np.linalg.inv(np.linalg.cholesky(h))
    hinv = hinv.T @ hinv  # H⁻¹
    u = np.linalg.cholesky(hinv).T  # upper: H⁻¹ = Uᵀ U
    s, z = scale[:, None], zp[:, None]
    q = np.zeros_like(w)
    for i1 in range(0, d, BLOCK):
        i2 = min(i1 + BLOCK, d)
        w1 = w[:, i1:i2].copy()
        err = np.zeros_like(w1)
        u1 = u[i1:i2, i1:i2]
        for i in range(i2 - i1):
            qi = _quant(w1[:, i:i + 1], s, z, lo, hi)
            q[:, i1 + i] = qi[:, 0]
            e = (w1[:, i] - ((qi[:, 0] - z[:, 0]) * s[:, 0])) / u1[i, i]
            w1[:, i:] -= np.outer(e, u1[i, i:])
            err[:, i] = e
        w[:, i2:] -= err @ u[i1:i2, i2:]
    inverse = np.argsort(perm)
    return q[:, inverse]


def gptq_per_row(w: np.ndarray, hs: np.ndarray, scale: np.ndarray, zp: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Depthwise layers: every row has its own small covariance ``hs`` [rows, d, d]."""
    d = w.shape[1]
    hs = _damped(hs)
    hinv = np.linalg.inv(hs)
    u = np.swapaxes(np.linalg.cholesky(hinv), 1, 2)
    w = w.astype(np.float64).copy()
    q = np.zeros_like(w)
    for i in range(d):
        qi = _quant(w[:, i], scale, zp, lo, hi)
        q[:, i] = qi
        e = (w[:, i] - (qi - zp) * scale) / u[:, i, i]
        w[:, i:] -= e[:, None] * u[:, i, i:]
    return q


def refine(q: np.ndarray, target: np.ndarray, h: np.ndarray, scale: np.ndarray, zp: np.ndarray, lo: int, hi: int,
           passes: int = REFINE_PASSES) -> np.ndarray:
    """Integer rows ``q`` improved by local search on the objective second-order rounding approximates,
    Σ_r (ŵ_r − t_r) H (ŵ_r − t_r)ᵀ (``h``: one [d, d] for every row, or one per row [rows, d, d]): column by
    column, every row's integer moves one step up or down where that lowers it, until a pass changes nothing.
    Greedy rounding fixes each column once, with the columns after it still free; this revisits them all."""
    q = q.astype(np.float64).copy()
    shared = h.ndim == 2
    hd = _damped(h[None] if shared else h)
    hm = hd[0] if shared else hd
    diff = (q - zp[:, None]) * scale[:, None] - target
    grad = diff @ hm if shared else np.einsum("rd,rde->re", diff, hm)  # half the gradient, per row
    d = q.shape[1]
    for _ in range(passes):
        moved = 0
        for j in range(d):
            hjj = hm[j, j] if shared else hm[:, j, j]
            best = np.zeros(q.shape[0])
            gain = np.zeros(q.shape[0])
            for step in (1.0, -1.0):
                delta = step * scale
                change = 2 * delta * grad[:, j] + delta * delta * hjj  # the objective's change
                allowed = (q[:, j] + step >= lo) & (q[:, j] + step <= hi)
                better = allowed & (change < gain - 1e-12 * np.abs(gain))
                best = np.where(better, step, best)
                gain = np.where(better, change, gain)
            rows = np.nonzero(best)[0]
            if rows.size == 0:
                continue
            moved += rows.size
            q[rows, j] += best[rows]
            delta = best[rows] * scale[rows]
            grad[rows] += delta[:, None] * (hm[j][None, :] if shared else hm[rows, j, :])
        if moved == 0:
            break
    return q


def _damped(h: np.ndarray) -> np.ndarray:
    """H + λI per matrix (λ = DAMPING × mean diagonal); dead inputs (zero diagonal) get 1."""
    h = h.astype(np.float64).copy()
    idx = np.arange(h.shape[-1])
    diag = h[..., idx, idx]
    h[..., idx, idx] = np.where(diag <= 0, 1.0, diag)
    mean = np.maximum(h[..., idx, idx].mean(axis=-1, keepdims=True), 1e-12)
    h[..., idx, idx] += DAMPING * mean
    return h


@dataclass
class Candidate:
    name: str  # "nearest", "nearest+bias", "optimized"
    q: np.ndarray  # integer rows [rows, d]
    shift: np.ndarray | None  # bias shift per row (float), None: bias unchanged
    error: float = 0.0  # Σ ‖W x − Ŵ x̃ − s‖² on the check inputs


def _rows(layer: Layer, w: np.ndarray) -> np.ndarray:
    op = layer.node.op_type
    if op == "Gemm":
        return w
    if op == "MatMul":
        return w.T
    if op == "Conv":
        return w.reshape(w.shape[0], -1)
    return w.transpose(1, 0, *range(2, w.ndim)).reshape(w.shape[1], -1)  # ConvTranspose: per output channel


def from_rows(layer: Layer, q: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    op = layer.node.op_type
    if op == "Gemm":
        return q
    if op == "MatMul":
        return q.T
    if op == "Conv":
        return q.reshape(shape)
    return q.reshape(shape[1], shape[0], *shape[2:]).transpose(1, 0, *range(2, len(shape)))


def _expanded(layer: Layer, s: PairStats, shape: tuple[int, ...]) -> PairStats:
    """ConvTranspose: channel statistics spread over the kernel positions (rows are [Cin, kh, kw])."""
    if layer.node.op_type != "ConvTranspose":
        return s
    k = int(np.prod(shape[2:]))
    eye, ones = np.eye(k), np.ones(k)
    kron = lambda m: np.stack([np.kron(g, eye) for g in m])  # noqa: E731
    return PairStats(kron(s.h), kron(s.c) if s.c is not None else None, kron(s.hf) if s.hf is not None else None,
                     np.stack([np.kron(g, ones) for g in s.sum_q]), np.stack([np.kron(g, ones) for g in s.sum_f]),
                     s.count)


def row_vectors(v: np.ndarray, rows: int) -> np.ndarray:
    """Per-group vectors [groups, d] laid out per weight row [rows, d]."""
    return np.repeat(v, rows // v.shape[0], axis=0) if v.shape[0] > 1 else np.broadcast_to(v[0], (rows, v.shape[1]))


class _PerRow:
    """Statistics indexed per weight row: depthwise layers have one matrix per row, others one per group."""

    def __init__(self, s: PairStats, rows: int) -> None:
        groups = s.h.shape[0]
        self.per_row = groups == rows and groups > 1
        rep = (lambda m: m) if self.per_row or groups == 1 else (lambda m: np.repeat(m, rows // groups, axis=0))
        self.groups, self.rows = groups, rows
        self.h, self.c = rep(s.h), rep(s.cross)
        self.hf = rep(s.hf) if s.hf is not None else None
        self.count = s.count
        self.sum_q, self.sum_f = row_vectors(s.sum_q, rows), row_vectors(s.sum_f, rows)

    def quad(self, a: np.ndarray, m: np.ndarray, b: np.ndarray) -> float:
        """Σ_r a_r M_r b_rᵀ."""
        if m.shape[0] == 1:
            return float(np.sum((a @ m[0]) * b))
        return float(np.sum(np.matmul(a[:, None, :], m)[:, 0, :] * b))


def error(stats: _PerRow, w: np.ndarray, wq: np.ndarray, shift: np.ndarray | None) -> float:
    """Σ ‖W x − Ŵ x̃ − s‖² over the inputs behind ``stats`` (exact, from the second moments)."""
    hf = stats.hf if stats.hf is not None else stats.h
    e = stats.quad(w, hf, w) - 2 * stats.quad(w, stats.c, wq) + stats.quad(wq, stats.h, wq)
    if shift is not None:
        mean_gap = np.einsum("rd,rd->r", w, stats.sum_f) - np.einsum("rd,rd->r", wq, stats.sum_q)
        e += float(stats.count * shift @ shift - 2 * shift @ mean_gap)
    return max(e, 0.0)


def _optimized(w: np.ndarray, h: np.ndarray, c: np.ndarray, fit: PairStats, scale: np.ndarray,
               zp: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Second-order rounding of the rows ``w`` against (centred) ``h`` and, when the float input is known,
    towards the weights that undo the input's error; and the same refined by local search (``refine``)."""
    groups = h.shape[0]
    per = w.shape[0] // groups
    depthwise = groups > 1 and per == 1
    q_opt = np.zeros_like(w)
    q_refined = np.zeros_like(w)
    for g in range(1 if depthwise else groups):
        sl = slice(None) if depthwise else slice(g * per, (g + 1) * per)
        hg, cg = (h, c) if depthwise else (h[g], c[g])
        target = w[sl]
        if fit.c is not None:  # W' = W + W (C − H̃)(H̃ + λI)⁻¹: the weights that undo the input's error
            gap = cg - hg
            if depthwise:
                target = target + np.einsum("rd,rde->re", target, np.linalg.solve(_damped(hg), np.swapaxes(gap, 1, 2))
                                            .swapaxes(1, 2))
            else:
                target = target + np.linalg.solve(_damped(hg), gap.T @ target.T).T
        q_opt[sl] = (gptq_per_row(target, hg, scale, zp, lo, hi) if depthwise
                     else gptq(target, hg, scale[sl], zp[sl], lo, hi))
        q_refined[sl] = refine(q_opt[sl], target, hg, scale[sl], zp[sl], lo, hi) if REFINE_PASSES else q_opt[sl]
    return q_opt, q_refined


def candidates(layer: Layer, weight: np.ndarray, fit: PairStats, check: PairStats | None, *,
               bias_correction: bool, skip: bool = False) -> tuple[list[Candidate], float]:
    """The rounding candidates for ``layer`` (float ``weight``) with their error on the check inputs (the fit
    inputs when there are none), and Σ ‖W x‖² there (to express errors relative to the output). Second-order
    rounding is left out when ``skip`` is set or when the fit inputs are fewer than the layer's columns (the
    covariance is then too poorly known: it fits the calibration inputs, not the data)."""
    info = np.iinfo(layer.dtype)
    lo, hi = int(info.min), int(info.max)
    shape = weight.shape
    w = _rows(layer, weight.astype(np.float64))
    n_rows = w.shape[0]
    scale = np.broadcast_to(layer.scale if layer.scale.size > 1 else layer.scale[0], (n_rows,)).astype(np.float64)
    zp = np.broadcast_to(layer.zero_point if layer.zero_point.size > 1 else layer.zero_point[0], (n_rows,))
    zp = zp.astype(np.float64)
    deq = lambda x: (x - zp[:, None]) * scale[:, None]  # noqa: E731
    fit = _expanded(layer, fit, shape)
    measure = _PerRow(_expanded(layer, check, shape) if check is not None else fit, n_rows)
    with_bias = bias_correction and layer.bias is not None
    n = max(fit.count, 1)
    mean_q, mean_f = fit.sum_q / n, fit.sum_f / n
    h, c = fit.h, fit.cross
    if with_bias:  # the bias takes the mean: fit the centred inputs
        h = h - n * np.einsum("gd,ge->gde", mean_q, mean_q)
        c = c - n * np.einsum("gd,ge->gde", mean_f, mean_q)
    nearest = _quant(w, scale[:, None], zp[:, None], lo, hi)
    q_opt = q_refined = None
    if fit.count >= h.shape[-1] and not skip:
        try:
            q_opt, q_refined = _optimized(w, h, c, fit, scale, zp, lo, hi)
        except np.linalg.LinAlgError:  # the (centred) covariance is not positive definite even damped: the
            q_opt = None  # inputs' mean dwarfs their spread in float64; the layer keeps nearest rounding
    row_mean_q, row_mean_f = row_vectors(mean_q, n_rows), row_vectors(mean_f, n_rows)

    def shift_for(q: np.ndarray) -> np.ndarray:  # E[W x − Ŵ x̃] per output row, on the fit inputs
        return np.einsum("rd,rd->r", w, row_mean_f) - np.einsum("rd,rd->r", deq(q), row_mean_q)

    found = [Candidate("nearest", nearest, None)]
    if with_bias:
        found.append(Candidate("nearest+bias", nearest, shift_for(nearest)))
    if q_opt is not None:
        found.append(Candidate("optimized", q_opt, shift_for(q_opt) if with_bias else None))
    for cand in found:
        cand.error = error(measure, w, deq(cand.q), cand.shift)
    if q_opt is not None and q_refined is not None and not np.array_equal(q_refined, q_opt):
        # the local search's answer replaces second-order rounding's where the check inputs measure it better
        refined = Candidate("optimized", q_refined, shift_for(q_refined) if with_bias else None)
        refined.error = error(measure, w, deq(refined.q), refined.shift)
        if refined.error < found[-1].error:
            found[-1] = refined
    hf = measure.hf if measure.hf is not None else measure.h
    return found, measure.quad(w, hf, w)
