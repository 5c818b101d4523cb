"""ONNX Runtime's model tools without their start-up cost: ``onnxruntime.tools``'s ``__init__`` imports torch
whenever torch is installed (~2 s) for a helper onnpu never uses. The package is registered without running
that ``__init__``; its modules (``onnx_model_utils``, ``symbolic_shape_infer``) then import as usual."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType


def ort_tool(name: str) -> ModuleType:
    """``onnxruntime.tools.<name>``, imported without ``onnxruntime.tools.__init__``."""
    package = "onnxruntime.tools"
    if package not in sys.modules:
        import onnxruntime

        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations is not None:
            module = importlib.util.module_from_spec(spec)  # the package object, its __init__ not executed
            sys.modules[package] = module
            onnxruntime.tools = module
    return importlib.import_module(f"{package}.{name}")
