"""onnpu: take ONNX models to Qualcomm NPUs through ONNX Runtime's QNN execution provider, and prove
with numbers what runs where, how fast and how accurately."""

from __future__ import annotations

from onnpu.classification import ClassifyResult, classify
from onnpu.doctor import DoctorReport, doctor
from onnpu.errors import (
    DownloadError,
    InputDataError,
    ModelError,
    OnnpuError,
    OutputError,
    PlacementError,
    ProviderOptionError,
    QuantizationError,
    ShapeError,
    TargetError,
)
from onnpu.inspection import ModelInfo, TensorInfo, inspect_model
from onnpu.placement import PlacementSummary
from onnpu.qparams import QuantParams, dequantize, quantize_array
from onnpu.running import RunResult, run_model
from onnpu.session import LoadedSession, create_session
from onnpu.targets import Target, get_target, qnn_status

__version__ = "0.1.0"

__all__ = [
    "ClassifyResult",
    "DoctorReport",
    "DownloadError",
    "InputDataError",
    "LoadedSession",
    "ModelError",
    "ModelInfo",
    "OnnpuError",
    "OutputError",
    "PlacementError",
    "PlacementSummary",
    "ProviderOptionError",
    "QuantParams",
    "QuantizationError",
    "RunResult",
    "ShapeError",
    "Target",
    "TargetError",
    "TensorInfo",
    "__version__",
    "classify",
    "create_session",
    "dequantize",
    "doctor",
    "get_target",
    "inspect_model",
    "qnn_status",
    "quantize_array",
    "run_model",
]
