"""Running ``layers``: the sides that see each input — the float reference, the reference's ops on the
quantized model's inputs (``local``), the quantized model on the exact CPU arithmetic, and the quantized model
on the device — each exposing one chunk of tensors; and the comparison of one input, tensor by tensor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from onnpu.measure.layers.graph import LayerTensor
from onnpu.measure.layers.parts import Chunk, device_alone_model, expose, local_model, prefix_model
from onnpu.measure.layers.stats import DeviceStats, DriftStats
from onnpu.metrics import drift_in_steps
from onnpu.model.files import metadata, read_model, write_model
from onnpu.model.inspection import TensorInfo, tensor_infos
from onnpu.model.qparams import QuantParams, dequantize, quantize_array
from onnpu.runtime.compat import compatibility
from onnpu.runtime.context_cache import open_session
from onnpu.runtime.feeds import align_by_position, prepare_feeds
from onnpu.runtime.session import LoadedSession, exact_cpu_session
from onnpu.runtime.targets import Target


def _shrink() -> ort.RunOptions:
    """Run options that hand the CPU arena back after each run: the sides run one after the other, so the
    peak is the biggest run's, not the sum of every session's arena."""
    options = ort.RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return options


class Side:
    """One model that sees every input, fetching some of its tensors per run (graph inputs come from the
    feeds; with no session, it only prepares feeds)."""

    def __init__(self, session: LoadedSession | None, infos: list[TensorInfo], label: str,
                 dims: Mapping[str, int] | None, fed: Mapping[str, str] | None = None) -> None:
        self.session, self.infos, self.label, self.dims = session, infos, label, dims
        self.names = [i.name for i in infos]
        self.fed = dict(fed or {})  # the local model's inputs → the shared tensors they read

    def feeds(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if set(self.names) < set(feed):  # the other model's extra inputs (values this one has baked in)
            feed = {n: feed[n] for n in self.names}
        return prepare_feeds(self.infos, align_by_position(feed, self.names), self.label, self.dims)[0]

    def outputs(self) -> list[str]:
        return [o.name for o in self.session.session.get_outputs()] if self.session else []

    def fetch(self, names: Sequence[str], feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        run = [n for n in names if n not in feeds]
        values: dict[str, np.ndarray] = {}
        if run and self.session is not None:
            values = dict(zip(run, self.session.session.run(run, dict(feeds), _shrink()), strict=True))
        values.update({n: feeds[n] for n in names if n in feeds})
        return values


def cpu_side(model: onnx.ModelProto, names: Sequence[str], label: str, dims: Mapping[str, int] | None) -> Side:
    """The exact CPU arithmetic of the part of ``model`` that computes ``names``."""
    inputs = {i.name for i in model.graph.input}
    wanted = [n for n in names if n not in inputs]
    session = exact_cpu_session(prefix_model(model, wanted), dims=dims) if wanted else None
    return Side(session, tensor_infos(model)[0], label, dims)


def local_side(reference: onnx.ModelProto, chunk: Chunk, shared: set[str], dims: Mapping[str, int] | None
               ) -> Side | None:
    model, fed = local_model(reference, chunk.tensors, shared)
    if not model.graph.output:
        return None
    session = exact_cpu_session(model, dims=dims)
    return Side(session, tensor_infos(model)[0], "local", dims, fed)


def device_side(model: onnx.ModelProto, names: Sequence[str], label: str, target: Target, folder: Path,
                dims: Mapping[str, int] | None, cache: bool) -> tuple[Side, Path]:
    """``model`` with ``names`` as extra outputs on ``target`` (through the context cache: a rerun loads the
    compiled graph). Returns the side and the file it was compiled from."""
    before = expose(model, names)
    path = folder / "exposed.onnx"
    try:
        write_model(model, path)  # copies a model it moves into external data: ``model`` is shared
    finally:
        del model.graph.output[before:]
    return Side(open_session(path, target, dims=dims, cache=cache), tensor_infos(model)[0], label, dims), path


def device_alone_side(model: onnx.ModelProto, chunk: Chunk, every: Sequence[LayerTensor], target: Target,
                      folder: Path, dims: Mapping[str, int] | None, cache: bool) -> Side | None:
    """Each op of ``chunk`` on its own on ``target``, fed the exact CPU arithmetic's integer inputs."""
    alone, fed = device_alone_model(model, chunk.tensors, every)
    if not alone.graph.output:
        return None
    path = folder / "alone.onnx"
    write_model(alone, path)
    return Side(open_session(path, target, dims=dims, cache=cache), tensor_infos(alone)[0], "alone", dims, fed)


def htp_arch(target: Target, compiled: Path | None) -> str:
    """The HTP architecture the device session compiled for: the ``htp_arch`` option, else the one recorded
    in the compiled context (``ep_compatibility_info``), else the backend's default."""
    options = target.options_dict
    if options.get("htp_arch", "0") != "0":
        return f"v{options['htp_arch']}"
    if compiled is not None and compiled.is_file():
        info = compatibility(metadata(read_model(compiled, load_external_data=False)))
        if info is not None and info.htp_archs:
            return (f"v{','.join(map(str, info.htp_archs))} (soc_model {','.join(map(str, info.soc_models))})"
                    if info.soc_models else f"v{','.join(map(str, info.htp_archs))}")
    soc = options.get("soc_model")
    return f"soc_model {soc}" if soc else "backend default (no soc_model or htp_arch option)"


def compiled_context(path: Path, target: Target, dims: Mapping[str, int] | None) -> Path | None:
    """Where the context cache keeps the graph compiled from ``path`` for ``target``."""
    from onnpu.runtime.context_cache import CTX_NAME, cache_key, contexts_dir

    return contexts_dir() / cache_key(path, target, dims)[0] / CTX_NAME if target.is_qnn else None


def output_steps(a: np.ndarray, b: np.ndarray, qp: QuantParams | None) -> float:
    """Largest difference between two runs' values of one output, in its quantization steps when it has them
    (per axis), else raw (integers: steps of 1)."""
    integer = np.issubdtype(np.asarray(a).dtype, np.integer)
    drift = drift_in_steps([a], [b], qp.scale if qp is not None and not integer else None,
                           qp.axis if qp is not None else None, integer=integer)
    return drift.max_steps if drift.max_steps is not None else drift.max_abs_diff


def _stored(t: LayerTensor, values: Mapping[str, np.ndarray]) -> tuple[np.ndarray, QuantParams | None]:
    """The quantized model's value of ``t``: its integers and their parameters, or a float tensor."""
    if t.integer and t.quant is not None:
        return values[t.integer], t.quant
    return values[t.raw or t.name], None


def _as_float(t: LayerTensor, values: Mapping[str, np.ndarray], dtype: np.dtype) -> np.ndarray:
    data, qp = _stored(t, values)
    return np.asarray(dequantize(data, qp) if qp is not None else data).astype(dtype, copy=False)  # 0-d stays array


Sides = tuple[Side | None, Side | None, Side, Side | None, Side | None]  # reference, local, cpu, device, alone


def compare_one(chunk: Chunk, feed: Mapping[str, np.ndarray], sides: Sides, drift: dict[str, DriftStats],
                device: dict[str, DeviceStats], alone: dict[str, DeviceStats], finals: list[str]
                ) -> dict[str, np.ndarray]:
    """One input: run each side once, compare tensor by tensor, drop each array once compared. Returns the
    device's values of the model's outputs (``finals``) in this run."""
    ref, local, cpu, dev, solo = sides
    qfeeds = cpu.feeds(feed)
    qv = cpu.fetch(chunk.fetch_quantized(with_sources=local is not None or solo is not None), qfeeds)
    rfeeds = ref.feeds(feed) if ref is not None else {}
    rv: dict[str, Any] = ref.fetch(chunk.fetch_reference(), rfeeds) if ref is not None else {}
    lv: dict[str, Any] = {}
    if local is not None:
        by_name = {t.name: t for t in chunk.tensors + chunk.sources}
        types = {i.name: i.numpy_dtype for i in local.infos}
        lfeeds = {name: _as_float(by_name[source], qv, types[name]) for name, source in local.fed.items()}
        lfeeds.update({n: rfeeds[n] for n in local.names if n not in lfeeds and n in rfeeds})
        lv = local.fetch(local.outputs(), lfeeds)
        del lfeeds
    dv: dict[str, Any] = {}
    if dev is not None:
        wanted = chunk.fetch_device()
        dv = dev.fetch(wanted + [n for n in finals if n not in wanted], qfeeds)
    sv: dict[str, Any] = {}
    if solo is not None:
        sfeeds = {name: qv[x] if x in qv else qfeeds[x] for name, x in solo.fed.items()}
        sfeeds.update({n: qfeeds[n] for n in solo.names if n not in sfeeds and n in qfeeds})
        sv = solo.fetch(solo.outputs(), sfeeds)
        del sfeeds
    for t in chunk.tensors:
        if solo is not None and t.integer in sv and t.quant is not None and t.name in alone:
            alone[t.name].add(qv[t.integer], sv.pop(t.integer), t.quant)
        if ref is not None:
            data, qp = _stored(t, qv)
            drift[t.name].add(rv.pop(t.name), data, qp, qv.get(t.pre_quant) if t.pre_quant else None,
                              lv.pop(t.name, None))
        if dev is not None and t.name in device and t.quant is not None and t.integer:
            if t.output:  # read back from the graph output it leaves through
                value = dv[t.output]
                on_device = value if value.dtype == qv[t.integer].dtype else quantize_array(value, t.quant)
            else:
                on_device = dv.pop(t.integer)
            device[t.name].add(qv[t.integer], on_device, t.quant)
    return {n: dv[n] for n in finals if n in dv}
