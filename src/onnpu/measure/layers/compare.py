"""``layers``: where accuracy is lost, layer by layer — a float model against its quantized copy on the exact
QDQ arithmetic, and the quantized model on a device (the NPU) against that exact CPU arithmetic.

Every activation both models keep is exposed as an extra graph output; each input's tensors are compared as
soon as a run returns them and only running sums are kept. Models whose exposed tensors would not fit in
``max_mb`` are run in chunks of tensors (one model per chunk, computing only the part of the graph the chunk
needs), so memory stays bounded on big models."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from onnpu import progress
from onnpu.errors import InputDataError, OnnpuError
from onnpu.machine import peak_rss_mb
from onnpu.measure.layers.advice import advise, quantization_config
from onnpu.measure.layers.budget import budget_explains, rows_from
from onnpu.measure.layers.graph import LayerPlan, plan_layers
from onnpu.measure.layers.parts import Chunk, chunks, fix_input_dims
from onnpu.measure.layers.result import DeviceSummary, LayersResult, by_op, rank
from onnpu.measure.layers.run import (
    Side,
    compare_one,
    compiled_context,
    cpu_side,
    device_alone_side,
    device_side,
    htp_arch,
    local_side,
    output_steps,
)
from onnpu.measure.layers.stats import DeviceStats, DriftStats
from onnpu.model.files import metadata, read_model
from onnpu.model.inspection import tensor_infos
from onnpu.model.qparams import QuantParams, io_quant_params
from onnpu.model.shapes import dims_from, infer_shapes, inputs_source
from onnpu.quantization.calibration import model_inputs
from onnpu.runtime.context_cache import open_session
from onnpu.runtime.feeds import run_feeds
from onnpu.runtime.inputs import check_finite
from onnpu.runtime.inputs.kinds import real_data_placeholder
from onnpu.runtime.session import exact_cpu_session
from onnpu.runtime.targets import CPU, Target
from onnpu.vision.preprocess import PreprocessConfig

DEFAULT_THRESHOLD_DB = 20.0
DEFAULT_MAX_MB = 512
EXTRA_OUTPUTS_NOTE = ("the device ran a copy of the model with every compared tensor as an extra output; extra "
                      "outputs can change how the HTP fuses the graph (a tensor that leaves the graph must be "
                      "written out), so the final outputs are checked against the model without them")


def _fixed(model: onnx.ModelProto, dims: Mapping[str, int] | None) -> onnx.ModelProto:
    fix_input_dims(model, dims)
    return infer_shapes(model)


@dataclass
class _DeviceCheck:
    """The device's part of a run: the model's outputs without extra outputs (to check the copy with them),
    the placements, the HTP arch, per-tensor step statistics."""

    target: Target
    plain: list[dict[str, np.ndarray]] = field(default_factory=list)
    plain_placement: str | None = None
    output_params: dict[str, QuantParams] = field(default_factory=dict)
    placements: list[str] = field(default_factory=list)
    arch: str | None = None
    outputs_steps: float = 0.0
    stats: dict[str, DeviceStats] = field(default_factory=dict)
    alone: dict[str, DeviceStats] = field(default_factory=dict)

    def run_plain(self, path: Path, model: onnx.ModelProto, feeds: list[dict[str, np.ndarray]],
                  dims: Mapping[str, int] | None, cache: bool) -> None:
        loaded = open_session(path, self.target, dims=dims, cache=cache)
        side = Side(loaded, tensor_infos(model)[0], str(path), dims)
        names = [o.name for o in model.graph.output]
        self.output_params = io_quant_params(model)[1]
        for k, feed in enumerate(feeds):
            self.plain.append(side.fetch(names, side.feeds(feed)))
            progress.advance("device: the model as it is", k + 1, len(feeds))
        placement = loaded.placement
        self.plain_placement = placement.headline() if placement else None

    def side(self, model: onnx.ModelProto, chunk: Chunk, label: str, folder: Path, dims: Mapping[str, int] | None,
             cache: bool) -> Side:
        side, path = device_side(model, chunk.fetch_device(), label, self.target, folder, dims, cache)
        placement = side.session.placement if side.session else None
        self.placements.append(placement.headline() if placement else "not recorded")
        if self.arch is None:
            self.arch = htp_arch(self.target, compiled_context(path, self.target, dims) if cache else None)
        return side

    def alone_side(self, model: onnx.ModelProto, chunk: Chunk, plan: LayerPlan, folder: Path,
                   dims: Mapping[str, int] | None, cache: bool) -> Side | None:
        return device_alone_side(model, chunk, plan.tensors, self.target, folder, dims, cache)

    def outputs_seen(self, k: int, values: Mapping[str, np.ndarray]) -> None:
        for name, value in values.items():
            self.outputs_steps = max(self.outputs_steps, output_steps(value, self.plain[k][name],
                                                                      self.output_params.get(name)))

    def summary(self, samples: int) -> DeviceSummary:
        return DeviceSummary(self.target.describe(), self.arch or "?", "; ".join(sorted(set(self.placements))),
                             self.plain_placement, None, None, None, self.outputs_steps == 0.0, self.outputs_steps,
                             samples, EXTRA_OUTPUTS_NOTE)


def compare_layers(reference: str | Path | None, quantized: str | Path, *, inputs: str | Path = "random",
                   count: int = 8, target: Target | None = None, threshold_db: float = DEFAULT_THRESHOLD_DB,
                   top: int = 10, preprocess: PreprocessConfig | None = None, dims: Mapping[str, int] | None = None,
                   seed: int = 0, cache: bool = True, max_mb: float = DEFAULT_MAX_MB,
                   input_ranges: Mapping[str, tuple[float, float]] | None = None) -> LayersResult:
    """Compare every activation ``reference`` (float) and ``quantized`` share, in graph order, on the same
    inputs (images, an .npz, or ``random``); with a non-CPU ``target``, also the quantized model on that
    target against the exact CPU arithmetic. ``reference`` may be None when ``target`` is given."""
    start = time.perf_counter()
    on_device = target is not None and target.provider != CPU
    if reference is None and not on_device:
        raise OnnpuError(f"{quantized}: one model on the CPU: layers needs the float model too, or a device target "
                         "to compare the quantized model on",
                         hint="onnpu layers FLOAT.onnx QUANT.onnx, or onnpu layers QUANT.onnx --target npu")
    if count < 1:
        raise InputDataError(f"--count {count}: need at least one input", hint="e.g. --count 8")
    qpath = Path(quantized)
    qmodel = read_model(qpath)
    fmodel = read_model(Path(reference)) if reference is not None else None
    if fmodel is not None:  # a float model with dynamic dims beside its fixed copy: the copy's sizes
        dims = {**dims_from(fmodel, qmodel), **dims_from(qmodel, fmodel), **(dims or {})} or None
    qmodel = _fixed(qmodel, dims)
    fmodel = _fixed(fmodel, dims) if fmodel is not None else None
    plan = plan_layers(fmodel if fmodel is not None else qmodel, qmodel)
    inner = [t for t in plan.tensors if not t.is_input]
    if not inner or (on_device and not any(t.integer for t in inner)):
        what = "no activation names" if fmodel is not None else "no quantized activations"
        raise OnnpuError(f"{qpath}: {reference or qpath} and {qpath} share {what}",
                         hint="give the float model and its QDQ copy made by `onnpu quantize` (or ONNX Runtime's "
                              "quantizer), which keeps the float tensor names")
    base = fmodel if fmodel is not None else qmodel
    data = model_inputs(inputs, inputs_source(base, qmodel, dims), count, preprocess=preprocess, seed=seed, dims=dims,
                        overrides=input_ranges)
    feeds = data.calibration
    check_finite(run_feeds(exact_cpu_session(base, dims=dims), feeds, model=str(reference or qpath), dims=dims),
                 model=str(reference or qpath), samples=data.calibration_names, inputs=data.random_kinds)
    parts = chunks(plan.tensors, int(max_mb * (1 << 20)), device=on_device)
    drift = {t.name: DriftStats() for t in plan.tensors} if fmodel is not None else {}
    check = _DeviceCheck(target) if on_device and target is not None else None
    with tempfile.TemporaryDirectory(prefix="onnpu-layers-") as tmp:
        if check is not None:
            check.run_plain(qpath, qmodel, feeds, dims, cache)
            check.stats = {t.name: DeviceStats() for t in plan.tensors if t.integer and not t.is_input}
            check.alone = {name: DeviceStats() for name in check.stats}
        shared = {t.name for t in plan.tensors}
        for c, chunk in enumerate(parts):
            ref = local = None
            if fmodel is not None:
                ref = cpu_side(fmodel, chunk.fetch_reference(), str(reference), dims)
                local = local_side(fmodel, chunk, shared, dims)
            cpu = cpu_side(qmodel, chunk.fetch_quantized(with_sources=True), str(qpath), dims)
            dev = solo = None
            if check is not None:
                dev = check.side(qmodel, chunk, str(qpath), Path(tmp), dims, cache)
                solo = check.alone_side(qmodel, chunk, plan, Path(tmp), dims, cache)
            for k, feed in enumerate(feeds):
                finals = compare_one(chunk, feed, (ref, local, cpu, dev, solo), drift, check.stats if check else {},
                                     check.alone if check else {}, list(check.plain[k]) if check else [])
                if check is not None:
                    check.outputs_seen(k, finals)
                progress.advance("comparing layers", c * len(feeds) + k + 1, len(parts) * len(feeds))
            del ref, local, cpu, dev, solo
    result = _result(plan, drift, check, reference, qpath, qmodel, str(inputs), len(feeds), threshold_db, top)
    result.chunks, result.seconds, result.peak_rss_mb = len(parts), time.perf_counter() - start, peak_rss_mb()
    if data.is_random:
        result.notes.insert(0, f"random inputs, not real data: {data.random_kinds}")
    return result


def _result(plan: LayerPlan, drift: dict[str, DriftStats], check: _DeviceCheck | None,
            reference: str | Path | None, qpath: Path, qmodel: onnx.ModelProto, inputs: str, samples: int,
            threshold_db: float, top: int) -> LayersResult:
    rows = rows_from(plan, drift, check.stats if check else {}, check.alone if check else None)
    result = LayersResult(str(reference) if reference is not None else None, str(qpath), inputs, samples,
                          threshold_db, rows, plan.reference_total, plan.skipped, 0, 0.0, 0.0)
    if not any(t.quant for t in plan.tensors):
        result.notes.append(f"{qpath.name} quantizes none of the activations it shares with the float model")
    if drift:
        result.first_below = next((r.index for r in rows if r.sqnr_db is not None and r.sqnr_db < threshold_db),
                                  None)
        result.top = rank(rows, top)
        result.by_op = by_op(rows)
        result.advice = advise(rows, result.top, str(reference), inputs, quantization_config(metadata(qmodel)),
                               result.final_sqnr_db, real_data_placeholder(tensor_infos(qmodel)[0]))
        explained = budget_explains(drift, plan)
        if explained is not None:
            result.notes.append(f"the layers' estimated shares add up to {explained:.0%} of the measured output "
                                "noise (100 % = noise from different layers adds up in power, as assumed)")
    if check is not None:
        summary = check.summary(samples)
        summary.first_departure = next((r.index for r in rows if r.device and r.device.max_steps > 1), None)
        summary.first_difference = next((r.index for r in rows if r.device and r.device.max_steps > 0), None)
        summary.first_op_departure = next((r.index for r in rows if r.device and (r.device.alone_max_steps or 0) > 1),
                                          None)
        result.device = summary
    return result
