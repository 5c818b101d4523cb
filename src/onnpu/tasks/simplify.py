"""``simplify``: a model as people export it made plain — given input values baked in, shapes fixed, then
OnnxSlim (``onnpu.model.simplify``) — and proven unchanged: the original model and the simplified one run on the
same inputs on the CPU (graph optimisations off on both sides, so nothing else folds), max abs error per output.
A result beyond float rounding is refused, not written."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from onnpu.errors import ModelError, OnnpuError, SimplifyError
from onnpu.model.files import check_output, read_model_and_layout, write_model
from onnpu.model.inspection import tensor_infos
from onnpu.model.shapes import fix_shapes_model
from onnpu.model.simplify import SimplifyStats, bake_inputs, check_fusion_names, condition_hint, simplify_model
from onnpu.runtime.feeds import run_feeds
from onnpu.runtime.inputs import check_finite, describe_kinds, input_kinds, random_inputs
from onnpu.runtime.ort_errors import first_line
from onnpu.runtime.session import exact_cpu_session

RTOL = 1e-3  # of the output's largest magnitude: float reassociation of folded/fused weights stays far below
ATOL = 1e-5


@dataclass
class OutputCheck:
    name: str
    max_abs_error: float
    max_abs_reference: float
    values: int = -1  # how many values were compared (0: the output was empty on every input: nothing checked)

    @property
    def tolerance(self) -> float:
        return ATOL + RTOL * self.max_abs_reference

    @property
    def ok(self) -> bool:
        return self.max_abs_error <= self.tolerance

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "max_abs_error": self.max_abs_error, "max_abs_reference": self.max_abs_reference,
                "tolerance": self.tolerance, "ok": self.ok, "values": self.values}


@dataclass
class SimplifyResult:
    source: str
    output: str | None
    stats: SimplifyStats
    shape_changes: list[str] = field(default_factory=list)
    baked: list[str] = field(default_factory=list)
    checks: list[OutputCheck] = field(default_factory=list)
    inputs_checked: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def max_abs_error(self) -> float | None:
        return max((c.max_abs_error for c in self.checks), default=None)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "output": self.output, **self.stats.to_dict(),
                "shape_changes": self.shape_changes, "baked_inputs": self.baked,
                "checks": [c.to_dict() for c in self.checks], "inputs_checked": self.inputs_checked,
                "max_abs_error": self.max_abs_error, "seconds": self.seconds, "notes": self.notes}


def _difference(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(max |a − b|, max |a|) over finite values; NaN/Inf where only one side has them counts as infinite."""
    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a64.shape != b64.shape:
        return float("inf"), float(np.max(np.abs(a64[np.isfinite(a64)]), initial=0.0))
    finite = np.isfinite(a64) & np.isfinite(b64)
    same_special = (~np.isfinite(a64) & ~np.isfinite(b64) & ((a64 == b64) | (np.isnan(a64) & np.isnan(b64))))
    if np.any(~finite & ~same_special):
        return float("inf"), float(np.max(np.abs(a64[finite]), initial=0.0))
    return (float(np.max(np.abs(a64[finite] - b64[finite]), initial=0.0)),
            float(np.max(np.abs(a64[finite]), initial=0.0)))


def _hint(model: onnx.ModelProto) -> str:
    return condition_hint(model) or "report the model"


def verify_unchanged(original: Path, simplified: onnx.ModelProto, baked: Mapping[str, np.ndarray], *,
                     inputs: int = 2, seed: int = 0) -> list[OutputCheck]:
    """Run ``original`` (fed the baked values too) and ``simplified`` on the same seeded inputs, on the CPU with
    graph optimisations off on both sides (an unfolded original may not even load with them on)."""
    infos, _ = tensor_infos(simplified)
    kinds = input_kinds(simplified, infos=infos)
    given = [random_inputs(infos, seed + k, kinds=kinds) for k in range(inputs)]
    try:
        reference = run_feeds(exact_cpu_session(original), [{**f, **baked} for f in given], model="original")
    except OnnpuError:
        raise
    except Exception as exc:  # onnxruntime's own errors at run time
        raise ModelError(f"{original}: the original model does not run on the CPU: {first_line(str(exc))}",
                         hint="check the model and the shapes given (onnpu run MODEL --random)") from exc
    check_finite(reference, model=f"{original} (the original)", samples=[f"random input {k}" for k in range(inputs)],
                 inputs=describe_kinds(kinds))
    try:
        result = run_feeds(exact_cpu_session(simplified), given, model="simplified")
    except Exception as exc:
        raise SimplifyError(f"the simplified model does not run: {first_line(str(exc))}",
                            hint=f"{_hint(simplified)}; or skip simplification (prepare --no-simplify)") from exc
    checks = []
    for name, values in reference.items():
        pairs = [_difference(r, s) for r, s in zip(values, result[name], strict=True)]
        checks.append(OutputCheck(name, max(p[0] for p in pairs), max(p[1] for p in pairs),
                                  sum(int(np.size(r)) for r in values)))
    return checks


def simplify(model: str | Path, out: str | Path | None, *, dims: Mapping[str, int] | None = None,
             shapes: Mapping[str, Sequence[int]] | None = None, values: Mapping[str, Any] | None = None,
             verify: bool = True, inputs: int = 2, seed: int = 0, skip_fusions: Sequence[str] = (),
             force: bool = False) -> SimplifyResult:
    """Bake ``values`` (input name → value) in, fix ``dims``/``shapes``, simplify, check the outputs against the
    original on ``inputs`` seeded random inputs, write ``out``. Raises SimplifyError (nothing written) when an
    output moved beyond float rounding."""
    start = time.perf_counter()
    src = Path(model)
    check_fusion_names(skip_fusions)  # before any work
    if out is not None:
        check_output(out, inputs=(src,), force=force)
    proto, had_external = read_model_and_layout(src)
    work, baked_changes = bake_inputs(proto, values or {}, str(src))
    baked = {t.name: onnx.numpy_helper.to_array(t) for t in work.graph.initializer if t.name in (values or {})}
    shape_changes: list[str] = []
    if dims or shapes:
        work, shape_changes = fix_shapes_model(work, dims, shapes, str(src))
    try:
        slim, stats = simplify_model(work, source=str(src), skip_fusions=skip_fusions)
    except SimplifyError:
        exact_cpu_session(src)  # a model onnxruntime cannot load is said as such, not as OnnxSlim's internals
        raise
    result = SimplifyResult(str(src), None, stats, shape_changes, baked_changes)
    if stats.control_flow_after:
        result.notes.append(f"{stats.control_flow_after} If/Loop/Scan left: their bodies run on the CPU "
                            "(an If folds only when its condition is constant: fix shapes, --input-value)")
    if verify:
        try:
            result.checks = verify_unchanged(src, slim, baked, inputs=inputs, seed=seed)
        except SimplifyError as exc:
            raise SimplifyError(f"{src}: {exc.message}", hint=_hint(work) + "; or skip simplification "
                                "(prepare --no-simplify)") from exc
        result.inputs_checked = inputs
        bad = [c for c in result.checks if not c.ok]
        if bad:
            listed = "; ".join(f"{c.name}: max |diff| {c.max_abs_error:.3g} (outputs up to {c.max_abs_reference:.3g})"
                               for c in bad)
            raise SimplifyError(f"{src}: simplification changed the outputs beyond float rounding: {listed}",
                                hint="skip simplification (prepare --no-simplify) and report the model")
    else:
        result.notes.append("not verified (--no-verify): the outputs were not compared with the original")
    if out is not None:
        result.output = str(write_model(slim, out, inputs=(src,), force=force, external_data=had_external or None))
    result.seconds = time.perf_counter() - start
    return result
