"""onnpu: take ONNX models to Qualcomm NPUs through ONNX Runtime's QNN execution provider, and prove
with numbers what runs where, how fast and how accurately.

Every verb is one function importable from here. Names are resolved on first use, so that ``import onnpu``
(and the command line) starts without importing onnx, onnxruntime or numpy."""

from __future__ import annotations

import importlib

from onnpu._version import __version__

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # errors
    "OnnpuError": "onnpu.errors", "ModelError": "onnpu.errors", "TargetError": "onnpu.errors",
    "ProviderOptionError": "onnpu.errors", "PlacementError": "onnpu.errors", "ShapeError": "onnpu.errors",
    "RunError": "onnpu.errors",
    "QuantizationError": "onnpu.errors", "InputDataError": "onnpu.errors", "OutputError": "onnpu.errors",
    "DownloadError": "onnpu.errors", "SimplifyError": "onnpu.errors",
    # models
    "inspect_model": "onnpu.model.inspection", "ModelInfo": "onnpu.model.inspection",
    "TensorInfo": "onnpu.model.inspection", "fix_shapes": "onnpu.model.shapes",
    "QuantParams": "onnpu.model.qparams", "quantize_array": "onnpu.model.qparams", "dequantize": "onnpu.model.qparams",
    # runtime
    "Target": "onnpu.runtime.targets", "get_target": "onnpu.runtime.targets", "qnn_status": "onnpu.runtime.qnn",
    "create_session": "onnpu.runtime.session", "LoadedSession": "onnpu.runtime.session",
    "PlacementSummary": "onnpu.runtime.placement",
    # quantization
    "quantize": "onnpu.quantization.pipeline", "QuantizeConfig": "onnpu.quantization.config",
    "QuantizeResult": "onnpu.quantization.pipeline",
    # vision
    "classify": "onnpu.vision.classify", "ClassifyResult": "onnpu.vision.classify",
    "classify_folder": "onnpu.vision.folder", "PreprocessConfig": "onnpu.vision.preprocess",
    # measurement
    "benchmark": "onnpu.measure.bench", "BenchResult": "onnpu.measure.bench", "compare": "onnpu.measure.compare",
    "CompareResult": "onnpu.measure.compare", "profile": "onnpu.measure.profile",
    "ProfileResult": "onnpu.measure.profile", "compare_layers": "onnpu.measure.layers",
    "LayersResult": "onnpu.measure.layers_result",
    # end-to-end verbs
    "run_model": "onnpu.tasks.run", "RunResult": "onnpu.tasks.run", "prepare": "onnpu.tasks.prepare",
    "PrepareResult": "onnpu.tasks.prepare", "explain_placement": "onnpu.tasks.explain_placement",
    "simplify": "onnpu.tasks.simplify", "SimplifyResult": "onnpu.tasks.simplify",
    "PlacementReport": "onnpu.tasks.explain_placement", "doctor": "onnpu.tasks.doctor",
    "DoctorReport": "onnpu.tasks.doctor", "demo": "onnpu.tasks.demo", "compile_for_socs": "onnpu.tasks.compile",
    "CompileResult": "onnpu.tasks.compile",
}

__all__ = [
    "BenchResult", "ClassifyResult", "CompareResult", "CompileResult", "DoctorReport", "DownloadError",
    "InputDataError", "LayersResult", "LoadedSession", "ModelError", "ModelInfo", "OnnpuError", "OutputError",
    "PlacementError", "PlacementReport", "PlacementSummary", "PrepareResult", "PreprocessConfig", "ProfileResult",
    "ProviderOptionError", "QuantParams", "QuantizationError", "QuantizeConfig", "QuantizeResult", "RunError",
    "RunResult", "ShapeError", "SimplifyError", "SimplifyResult", "Target", "TargetError", "TensorInfo",
    "__version__", "benchmark", "classify", "classify_folder", "compare", "compare_layers", "compile_for_socs",
    "create_session", "demo", "dequantize", "doctor", "explain_placement", "fix_shapes", "get_target",
    "inspect_model", "prepare", "profile", "qnn_status", "quantize", "quantize_array", "run_model", "simplify",
]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'onnpu' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from onnpu.errors import (
        DownloadError,
        InputDataError,
        ModelError,
        OnnpuError,
        OutputError,
        PlacementError,
        ProviderOptionError,
        QuantizationError,
        RunError,
        ShapeError,
        SimplifyError,
        TargetError,
    )
    from onnpu.measure.bench import BenchResult, benchmark
    from onnpu.measure.compare import CompareResult, compare
    from onnpu.measure.layers import compare_layers
    from onnpu.measure.layers_result import LayersResult
    from onnpu.measure.profile import ProfileResult, profile
    from onnpu.model.inspection import ModelInfo, TensorInfo, inspect_model
    from onnpu.model.qparams import QuantParams, dequantize, quantize_array
    from onnpu.model.shapes import fix_shapes
    from onnpu.quantization.config import QuantizeConfig
    from onnpu.quantization.pipeline import QuantizeResult, quantize
    from onnpu.runtime.placement import PlacementSummary
    from onnpu.runtime.qnn import qnn_status
    from onnpu.runtime.session import LoadedSession, create_session
    from onnpu.runtime.targets import Target, get_target
    from onnpu.tasks.compile import CompileResult, compile_for_socs
    from onnpu.tasks.demo import demo
    from onnpu.tasks.doctor import DoctorReport, doctor
    from onnpu.tasks.explain_placement import PlacementReport, explain_placement
    from onnpu.tasks.prepare import PrepareResult, prepare
    from onnpu.tasks.run import RunResult, run_model
    from onnpu.tasks.simplify import SimplifyResult, simplify
    from onnpu.vision.classify import ClassifyResult, classify
    from onnpu.vision.folder import classify_folder
    from onnpu.vision.preprocess import PreprocessConfig
