"""onnpu: take ONNX models to Qualcomm NPUs through ONNX Runtime's QNN execution provider, and prove
with numbers what runs where, how fast and how accurately.

Every verb is one function importable from here. Names are resolved on first use, so that ``import onnpu``
(and the command line) starts without importing onnx, onnxruntime or numpy.

The public names are listed once, in the ``if TYPE_CHECKING:`` block below: type checkers read it as it is,
and at run time it is parsed (on the first use of a public name) into the name → module table that resolves
them, ``__all__`` and ``dir(onnpu)`` (the pattern of scientific-python's ``lazy_loader.attach_stub``)."""

from __future__ import annotations

from onnpu._version import __version__ as __version__

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)

if TYPE_CHECKING:  # the public API: one list (each name re-exported as itself)
    from onnpu.errors import (
        DownloadError as DownloadError,
    )
    from onnpu.errors import (
        ExitCode as ExitCode,
    )
    from onnpu.errors import (
        InputDataError as InputDataError,
    )
    from onnpu.errors import (
        ModelError as ModelError,
    )
    from onnpu.errors import (
        OnnpuError as OnnpuError,
    )
    from onnpu.errors import (
        OutputError as OutputError,
    )
    from onnpu.errors import (
        PlacementError as PlacementError,
    )
    from onnpu.errors import (
        ProviderOptionError as ProviderOptionError,
    )
    from onnpu.errors import (
        QuantizationError as QuantizationError,
    )
    from onnpu.errors import (
        RunError as RunError,
    )
    from onnpu.errors import (
        ShapeError as ShapeError,
    )
    from onnpu.errors import (
        SimplifyError as SimplifyError,
    )
    from onnpu.errors import (
        TargetError as TargetError,
    )
    from onnpu.evaluation.result import EvalResult as EvalResult
    from onnpu.evaluation.run import evaluate as evaluate
    from onnpu.measure.bench import BenchResult as BenchResult
    from onnpu.measure.bench import benchmark as benchmark
    from onnpu.measure.compare import CompareResult as CompareResult
    from onnpu.measure.compare import compare as compare
    from onnpu.measure.layers import LayersResult as LayersResult
    from onnpu.measure.layers import compare_layers as compare_layers
    from onnpu.measure.profile import ProfileResult as ProfileResult
    from onnpu.measure.profile import profile as profile
    from onnpu.model.inspection import ModelInfo as ModelInfo
    from onnpu.model.inspection import TensorInfo as TensorInfo
    from onnpu.model.inspection import inspect_model as inspect_model
    from onnpu.model.qparams import (
        QuantParams as QuantParams,
    )
    from onnpu.model.qparams import (
        dequantize as dequantize,
    )
    from onnpu.model.qparams import (
        quantize_array as quantize_array,
    )
    from onnpu.model.shapes import fix_shapes as fix_shapes
    from onnpu.quantization.config import QuantizeConfig as QuantizeConfig
    from onnpu.quantization.pipeline import QuantizeResult as QuantizeResult
    from onnpu.quantization.pipeline import quantize as quantize
    from onnpu.runtime.placement import PlacementSummary as PlacementSummary
    from onnpu.runtime.qnn import qnn_status as qnn_status
    from onnpu.runtime.session import LoadedSession as LoadedSession
    from onnpu.runtime.session import create_session as create_session
    from onnpu.runtime.targets import Target as Target
    from onnpu.runtime.targets import get_target as get_target
    from onnpu.tasks.compile import CompileResult as CompileResult
    from onnpu.tasks.compile import compile_for_socs as compile_for_socs
    from onnpu.tasks.demo import demo as demo
    from onnpu.tasks.deployed import DeployedModel as DeployedModel
    from onnpu.tasks.deployed import load as load
    from onnpu.tasks.doctor import DoctorReport as DoctorReport
    from onnpu.tasks.doctor import doctor as doctor
    from onnpu.tasks.explain_placement import PlacementReport as PlacementReport
    from onnpu.tasks.explain_placement import explain_placement as explain_placement
    from onnpu.tasks.prepare import PrepareResult as PrepareResult
    from onnpu.tasks.prepare import prepare as prepare
    from onnpu.tasks.run import RunResult as RunResult
    from onnpu.tasks.run import run_model as run_model
    from onnpu.tasks.simplify import SimplifyResult as SimplifyResult
    from onnpu.tasks.simplify import simplify as simplify
    from onnpu.vision.classify import ClassifyResult as ClassifyResult
    from onnpu.vision.classify import classify as classify
    from onnpu.vision.detection.detect import detect as detect
    from onnpu.vision.detection.folder import detect_folder as detect_folder
    from onnpu.vision.detection.results import DetectResult as DetectResult
    from onnpu.vision.folder import classify_folder as classify_folder
    from onnpu.vision.preprocess import PreprocessConfig as PreprocessConfig


_exports: dict[str, str] | None = None


def _public() -> dict[str, str]:
    """Public name → the module that defines it, read from the ``if TYPE_CHECKING:`` block of this file."""
    global _exports
    if _exports is None:
        import ast
        from pathlib import Path

        tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
        block = next(node for node in tree.body if isinstance(node, ast.If)
                     and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
        _exports = {alias.asname or alias.name: str(node.module) for node in block.body
                    if isinstance(node, ast.ImportFrom) for alias in node.names}
    return _exports


def __getattr__(name: str) -> object:
    if name == "__all__":
        return ["__version__", *sorted(_public())]
    module = _public().get(name)
    if module is None:
        raise AttributeError(f"module 'onnpu' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), "__all__", *_public()})
