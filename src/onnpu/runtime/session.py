"""The one place that turns a model and a Target into an ONNX Runtime InferenceSession."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import onnxruntime as ort

from onnpu import progress
from onnpu.errors import InputDataError, ModelError, OnnpuError, PlacementError, RunError, TargetError
from onnpu.model import proto as onnx_proto
from onnpu.model.external_data import external_tensors
from onnpu.model.files import validate_model_file
from onnpu.model.graphs import needs_unique_names, with_unique_names
from onnpu.runtime.native_log import CapturedLog, capture_native
from onnpu.runtime.ort_errors import first_line, load_hint, ort_error_text
from onnpu.runtime.placement import AssignedSubgraph, PlacementSummary, summarize
from onnpu.runtime.qnn import ensure_qnn, qnn_devices, qnn_status
from onnpu.runtime.targets import CPU, FINALIZE_MODE, QNN, Target, get_target

if TYPE_CHECKING:
    import onnx

ort.set_default_logger_severity(3)


@dataclass
class LoadedSession:
    """An InferenceSession with what onnpu knows about how it was made and where its nodes landed."""

    session: ort.InferenceSession
    target: Target
    model_path: Path
    proto: onnx.ModelProto  # the graph without weights
    create_seconds: float
    qnn_mode: str | None
    subgraphs: list[AssignedSubgraph] | None
    log: CapturedLog | None = None  # what ONNX Runtime / QNN wrote while the session was created
    # The target could not take the model at all and, CPU fallback allowed, the whole model runs on the CPU:
    # the error the target's session failed with (its reason and fix are in the placement).
    fallback: OnnpuError | None = None

    @property
    def graph(self) -> onnx.GraphProto:
        return self.proto.graph

    @property
    def providers(self) -> list[str]:
        """Providers that really run at least one node (not merely registered with the session)."""
        if self.subgraphs is None:
            return list(self.session.get_providers())
        seen: list[str] = []
        for sub in self.subgraphs:
            if sub.provider not in seen:
                seen.append(sub.provider)
        return seen

    @property
    def placement(self) -> PlacementSummary | None:
        if self.subgraphs is None:
            return None
        summary = summarize(self.graph, self.subgraphs, self.target.provider,
                            self.target.hardware if self.target.is_qnn else "", self.target.device)
        if self.fallback is not None:
            from onnpu.runtime.failures import whole_model_refusal

            why = whole_model_refusal(self.fallback, str(self.model_path))
            summary.cpu_fallback, summary.fix = why if why else (str(self.fallback), self.fallback.hint)
        return summary

    def run(self, feeds: Mapping[str, Any], outputs: list[str] | None = None) -> list[Any]:
        try:
            return self.session.run(outputs, dict(feeds))
        except Exception as exc:  # no cost until something fails (zero-cost try)
            raise run_failure(self, exc) from exc


OPTIMIZATION_LEVELS = {
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    # Nothing fused: QDQ models then run DequantizeLinear → float op → QuantizeLinear exactly as written,
    # which makes the CPU an exact reference for quantized arithmetic.
    "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
}


def session_options(target: Target, dims: Mapping[str, int] | None, threads: int | None,
                     log_level: int, config: Mapping[str, str] | None, optimization: str,
                     profile_prefix: str | None = None, optimized_model: str | Path | None = None
                     ) -> ort.SessionOptions:
    so = ort.SessionOptions()
    if optimized_model is not None:
        so.optimized_model_filepath = str(optimized_model)
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    so.graph_optimization_level = OPTIMIZATION_LEVELS[optimization]
    so.log_severity_level = log_level
    if threads:
        so.intra_op_num_threads = threads
    for name, value in (dims or {}).items():
        so.add_free_dimension_override_by_name(name, int(value))
    so.add_session_config_entry("session.record_ep_graph_assignment_info", "1")
    if not target.allow_fallback and target.provider != CPU:
        so.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
    for key, entry in (config or {}).items():
        so.add_session_config_entry(key, entry)
    return so


def _assignment(session: ort.InferenceSession) -> list[AssignedSubgraph] | None:
    getter = getattr(session, "get_provider_graph_assignment_info", None)
    if getter is None:
        return None
    return [AssignedSubgraph(sub.ep_name, tuple((n.name, n.op_type) for n in sub.get_nodes())) for sub in getter()]


IN_MEMORY = Path("<in-memory model>")


def attach_provider(so: ort.SessionOptions, target: Target, *, for_compile: bool = False
                    ) -> tuple[list[Any] | None, str | None]:
    """Put ``target``'s provider into ``so`` (the QNN plugin is added to the options themselves), or return
    the ``providers=`` list an InferenceSession takes. Also returns how QNN was found (plugin / builtin)."""
    if target.provider == QNN:
        status = ensure_qnn()
        if status.mode == "plugin":
            so.add_provider_for_devices(qnn_devices(), target.options_dict)
            return None, status.mode
        if for_compile:
            so.add_provider(QNN, target.options_dict)
            return None, status.mode
        # Naming the CPU EP explicitly conflicts with disabling the CPU fallback.
        return [(QNN, target.options_dict)] + ([CPU] if target.allow_fallback else []), status.mode
    if target.provider == CPU:
        return [CPU], None
    if target.provider not in ort.get_available_providers():
        raise TargetError(f"execution provider {target.provider} is not available in this onnxruntime",
                          hint="available: " + ", ".join(ort.get_available_providers()))
    return [(target.provider, target.options_dict), CPU], None


def create_session(model: str | Path | onnx.ModelProto, target: Target, *, dims: Mapping[str, int] | None = None,
                   threads: int | None = None, log_level: int | None = None,
                   config: Mapping[str, str] | None = None, optimization: str = "all",
                   profile_prefix: str | None = None, label: str | Path | None = None,
                   checked: onnx.ModelProto | None = None, optimized_model: str | Path | None = None
                   ) -> LoadedSession:
    """Create a session for ``model`` (a file, or a model in memory) on ``target``.

    ``dims`` fixes symbolic dimensions for this session only (a dynamic model otherwise lands on the CPU).
    With ``target.allow_fallback`` false, a model that cannot run fully on the target raises PlacementError.
    ``optimization="disabled"`` keeps the graph as written (an exact CPU reference for QDQ arithmetic).
    ``profile_prefix`` turns on ONNX Runtime's JSON profiler (``session.end_profiling()`` returns the file).
    ``optimized_model`` is where ONNX Runtime writes the graph after its optimisations (``optimization``).
    ``log_level`` is ONNX Runtime's (0 verbose … 3 errors); the log is captured, never shown. NPU sessions keep
    warnings (2), which name the nodes the QNN backend refuses. ``label`` names a model given in memory in
    messages (e.g. the file it was read from). ``checked`` is the file's graph as ``validate_model_file`` already
    returned it, so that the file is not parsed again.
    """
    if log_level is None:
        log_level = 2 if target.provider == QNN else 3
    if isinstance(model, onnx_proto.ModelProto):
        path, proto, source = Path(label) if label else IN_MEMORY, model, model.SerializeToString()
    else:
        path = Path(model)
        proto = checked if checked is not None else validate_model_file(path)
        source = str(path)
        if needs_unique_names(proto) and not external_tensors(proto):
            # ONNX Runtime's assignment names nodes only by name: nameless ones (every one of CenterFace's 122)
            # would be one node in the placement. Named <Op #k> for this session, the file untouched.
            proto = with_unique_names(proto)
            source = proto.SerializeToString()
    so = session_options(target, dims, threads, log_level, config, optimization, profile_prefix, optimized_model)
    providers, qnn_mode = attach_provider(so, target)
    start = time.perf_counter()
    try:
        with capture_native() as log:
            session = ort.InferenceSession(source, sess_options=so, providers=providers)
            # On an EP error at run time, onnxruntime's Python session would silently re-create itself on the CPU
            # and retry: the recorded placement would then lie. A failed run is an error instead.
            session.disable_fallback()
    except Exception as exc:  # ORT raises its own Fail/InvalidGraph/... types; map them to what the user can do
        text = str(exc)
        _check_backend_loaded(path, target, log)  # a backend that failed to load is that, fallback or not
        lighter = target.lighter_finalization(text)
        if lighter is not None:  # QNN's graph optimiser ran out of memory: finalize with its lighter mode
            progress.note(f"{path}: QNN ran out of memory optimising the graph for {target.hardware}; finalized "
                          f"with {FINALIZE_MODE}=1 (a lighter optimisation)")
            return create_session(model, lighter, dims=dims, threads=threads, log_level=log_level, config=config,
                                  optimization=optimization, profile_prefix=profile_prefix, label=label,
                                  checked=proto, optimized_model=optimized_model)
        known: OnnpuError | None = None
        if target.provider == QNN:
            from onnpu.runtime.failures import explain_failure  # only when a session fails

            known = explain_failure(text, log, target, proto, str(path))
        if known is None and "fallback to CPU EP has been explicitly disabled" in text:
            refused = log.unsupported_nodes()
            listed = ", ".join(f"{name} ({op})" for name, op in refused[:6])
            more = f" and {len(refused) - 6} more" if len(refused) > 6 else ""
            detail = f"; refused by {target.provider}: {listed}{more}" if refused else ""
            raise PlacementError(f"{path}: the model cannot run fully on {target.name} and CPU fallback is "
                                 f"disabled{detail}",
                                 hint=f"run `onnpu placement {path} --target {target.name}` to see which nodes and "
                                      "why, or allow fallback") from exc
        if known is None and target.provider == QNN and ("QNN" in text or "Qnn" in text or "backend" in text.lower()):
            known = TargetError(f"{path}: the {target.backend_label} backend failed: {first_line(text)}",
                                hint="run `onnpu doctor` to check the QNN installation")
        if known is not None:
            known.__cause__ = exc
            fallback = _cpu_fallback(known, source, path, proto, target, dims, threads, config, optimization,
                                     profile_prefix, optimized_model)
            if fallback is None:
                raise known from exc
            return fallback
        said = first_line(text)
        raise ModelError(f"{path}: onnxruntime cannot load the model: {said}", hint=load_hint(said)) from exc
    elapsed = time.perf_counter() - start
    _check_backend_loaded(path, target, log)  # else the EP claims no node and all would run on the CPU, silently
    return LoadedSession(session, target, path, proto, elapsed, qnn_mode, _assignment(session), log)


def _cpu_fallback(error: OnnpuError, source: str | bytes, path: Path, proto: onnx.ModelProto, target: Target,
                  dims: Mapping[str, int] | None, threads: int | None, config: Mapping[str, str] | None,
                  optimization: str, profile_prefix: str | None, optimized_model: str | Path | None
                  ) -> LoadedSession | None:
    """Fallback as documented: when the target's HTP cannot take the model at all (``whole_model_refusal``) and
    CPU fallback is allowed, the whole model runs on the CPU, and says so (a warning on ``onnpu.progress``, the
    placement's headline and JSON). None when fallback is disabled or the failure is another one."""
    from onnpu.runtime.failures import whole_model_refusal

    why = whole_model_refusal(error, str(path)) if target.allow_fallback else None
    if why is None:
        return None
    cpu = get_target("cpu")
    cpu_config = {k: v for k, v in (config or {}).items() if not k.startswith("ep.context")}
    so = session_options(cpu, dims, threads, 3, cpu_config, optimization, profile_prefix, optimized_model)
    start = time.perf_counter()
    try:
        with capture_native() as log:
            session = ort.InferenceSession(source, sess_options=so, providers=[CPU])
            session.disable_fallback()
    except Exception as exc:
        raise ModelError(f"{path}: onnxruntime cannot load the model: {first_line(str(exc))}",
                         hint="check the model with `onnpu inspect`") from exc
    elapsed = time.perf_counter() - start
    reason, fix = why
    progress.warn(f"{path}: 0 nodes on the {target.device} ({target.hardware}): {reason}; the whole model runs on "
                  f"the CPU" + (f" (fix: {fix})" if fix else ""))
    return LoadedSession(session, target, path, proto, elapsed, None, _assignment(session), log, fallback=error)


BACKEND_FAILURES = ("SetupBackend failed", "Unable to load backend", "Failed to initialize backend")


def _check_backend_loaded(path: Path, target: Target, log: CapturedLog) -> None:
    """Raise when the QNN EP's log says its backend library did not load or initialise."""
    if target.provider != QNN:
        return
    failure = log.first(*BACKEND_FAILURES)
    if failure:
        from onnpu.runtime.board_checks import board_cause  # on a board: the prerequisite that fails

        board = board_cause(qnn_status().library_dir)
        if board:
            raise TargetError(f"{path}: the {target.backend_label} backend failed to load on {target.hardware}: "
                              f"{board[0]}", hint=board[1])
        where = "" if target.backend == "htp" else f" (not the NPU: backend_type={target.backend})"
        raise TargetError(f"{path}: the {target.backend_label} backend{where} failed to load: "
                          f"{failure.split('] ', 1)[-1][:300]}",
                          hint="run `onnpu doctor`; check backend_path / backend_type")


def run_failure(loaded: LoadedSession, exc: Exception) -> OnnpuError:
    """What went wrong in a run, in words: the inputs only when onnxruntime says the inputs were the cause
    (INVALID_ARGUMENT about an input); otherwise the model or the backend failed while running."""
    text = str(exc).replace("[ONNXRuntimeError] : ", "")
    if type(exc).__name__ == "InvalidArgument" and re.search(r"\binputs?\b", text.splitlines()[0] if text else ""):
        detail = " ".join(text.split("INVALID_ARGUMENT : ", 1)[-1].split())
        return InputDataError(f"{loaded.model_path}: onnxruntime rejected the inputs: {detail[:300]}",
                              hint="check input shapes and dtypes with `onnpu inspect`")
    where = loaded.target.device
    detail, name = ort_error_text(exc)
    if name:
        placement = loaded.placement
        ran_on = next((n.provider for n in (placement.nodes if placement else []) if n.name == name), None)
        if ran_on and ran_on != loaded.target.provider:
            where = f"{where} (that node ran on {ran_on})"
    hint = ("the inputs fit the model; check the node's attributes and constants (`onnpu inspect`)"
            if loaded.target.provider == CPU else
            "the inputs fit the model; run it with `--target cpu` to tell a problem of the model from one of the "
            f"{loaded.target.device} backend")
    return RunError(f"{loaded.model_path}: the model failed while running on the {where}: {detail[:300]}",
                    hint=hint)


def exact_session_options() -> ort.SessionOptions:
    """Session options of the exact reference (for tools that make their own CPU sessions)."""
    so = ort.SessionOptions()
    so.graph_optimization_level = OPTIMIZATION_LEVELS["disabled"]
    so.log_severity_level = 3
    return so


def exact_cpu_session(model: str | Path | onnx.ModelProto, *, dims: Mapping[str, int] | None = None,
                      threads: int | None = None) -> LoadedSession:
    """The exact reference for quantized arithmetic: the CPU with graph optimisations disabled, so a QDQ
    model computes DequantizeLinear → float op → QuantizeLinear as written. That is what the HTP computes to
    within one step; the CPU EP's fused integer kernels are not (they saturate on x86 without VNNI)."""
    return create_session(model, get_target("cpu"), dims=dims, threads=threads, optimization="disabled")


def optimized_graph(model: str | Path | onnx.ModelProto, *, dims: Mapping[str, int] | None = None
                    ) -> onnx.ModelProto | None:
    """The graph ONNX Runtime hands to the execution providers: the model after its basic (level 1)
    optimisations, which run before partitioning (fusions such as ``SpaceToDepth``, constant folding, no-op
    removal). Without weights. None when onnxruntime cannot load the model on the CPU."""
    from onnpu.storage import scratch_dir

    config = {"session.optimized_model_external_initializers_file_name": "weights.bin",
              "session.optimized_model_external_initializers_min_size_in_bytes": "1024"}
    with scratch_dir("onnpu-optimized-") as tmp:
        out = tmp / "optimized.onnx"
        try:
            create_session(model, get_target("cpu"), dims=dims, optimization="basic", optimized_model=out,
                           config=config)
        except OnnpuError:
            return None
        return onnx_proto.load_model(out) if out.exists() else None
