"""ONNX's protobuf messages, parsed without importing the ``onnx`` package.

``import onnx`` runs the package's ``__init__``, which imports ``onnx.helper`` and with it ml_dtypes, whose C
extension took 0.5-1.4 s to load on two machines of the kind onnpu runs on; a one-image ``classify`` needs none
of it. What the checks before a session need — the graph, its inputs and outputs, external-data references,
quantization parameters, op types, metadata — are the protobuf messages themselves. This module executes
onnx's generated ``onnx_ml_pb2.py`` (the messages, nothing else) from the installed package without running the
package's ``__init__``, and parses files with it exactly as ``onnx.load(path, load_external_data=False)`` does.
The classes are the very ones ``onnx`` uses (the generated code registers them in protobuf's default pool,
and ``import onnx`` later gets the same classes back), so a ``ModelProto`` from here is an ``onnx.ModelProto``.

Also: the numpy dtype of a tensor element type and ``to_array`` for the plain numeric tensors (a
quantization scale, a zero point) — both fall back to ``onnx.helper`` / ``onnx.numpy_helper`` for anything
else (bfloat16, float8, 4-bit, strings, segments, external data), so they always agree with onnx."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from onnx import (
        AttributeProto,
        FunctionProto,
        GraphProto,
        ModelProto,
        NodeProto,
        SparseTensorProto,
        TensorProto,
        ValueInfoProto,
    )

__all__ = ["AttributeProto", "FunctionProto", "GraphProto", "ModelProto", "NodeProto", "SparseTensorProto",
           "TensorProto", "ValueInfoProto", "data_size_problem", "load_model", "messages", "np_dtype", "parse_model",
           "to_array"]

MESSAGES = frozenset(__all__[:8])
# onnx.load's other formats, by file extension (onnx/serialization.py): these go to onnx itself
TEXT_FORMATS = frozenset({".txtpb", ".textproto", ".prototxt", ".pbtxt", ".json", ".onnxjson", ".onnxtxt",
                          ".onnxtext"})

_messages: ModuleType | None = None


def messages() -> ModuleType:
    """onnx's generated ``onnx_ml_pb2`` module: onnx's own when onnx is imported, else executed from the
    installed package's file (the package's ``__init__`` is not run)."""
    global _messages
    if _messages is not None:
        return _messages
    loaded = sys.modules.get("onnx.onnx_ml_pb2")
    if loaded is None:
        loaded = _load_generated()
    _messages = loaded
    return loaded


def _load_generated() -> ModuleType:
    spec = importlib.util.find_spec("onnx")  # where the package is; finding it runs nothing
    locations = list(spec.submodule_search_locations or []) if spec else []
    source = next((Path(p) / "onnx_ml_pb2.py" for p in locations if (Path(p) / "onnx_ml_pb2.py").is_file()), None)
    if source is not None:
        generated = importlib.util.spec_from_file_location("onnpu.model._onnx_ml_pb2", source)
        if generated is not None and generated.loader is not None:
            module = importlib.util.module_from_spec(generated)
            try:
                generated.loader.exec_module(module)
                return module
            except Exception:  # another protobuf runtime than the generated code wants: onnx knows what to do
                pass
    import onnx.onnx_ml_pb2  # the whole package, as a last resort

    return onnx.onnx_ml_pb2


def __getattr__(name: str) -> Any:
    if name in MESSAGES:
        return getattr(messages(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def parse_model(data: bytes) -> ModelProto:
    """A ModelProto from its serialized bytes, as onnx's protobuf serializer parses one (the same checks)."""
    from google.protobuf.message import DecodeError

    model = messages().ModelProto()
    decoded = model.ParseFromString(data)
    if decoded is not None and decoded != len(data):
        raise DecodeError(f"Protobuf decoding consumed too few bytes: {decoded} out of {len(data)}")
    return model


def load_model(path: str | Path) -> ModelProto:
    """``onnx.load(path, load_external_data=False)``: the file's ModelProto, external data neither read nor
    checked. Text formats (``.textproto``, ``.json``, ``.onnxtxt``, …) are read by onnx itself."""
    p = Path(path)
    if p.suffix.lower() in TEXT_FORMATS:
        import onnx

        return onnx.load(str(p), load_external_data=False)
    return parse_model(p.read_bytes())


# element type → numpy dtype name, for the types numpy has itself (onnx.helper knows the others)
_NUMPY_TYPES = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "object",
                9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 14: "complex64",
                15: "complex128"}


def np_dtype(elem_type: int) -> np.dtype:
    """``onnx.helper.tensor_dtype_to_np_dtype``: the numpy dtype of an ONNX element type."""
    import numpy as np

    name = _NUMPY_TYPES.get(elem_type)
    if name is not None:
        return np.dtype(name)
    from onnx import helper  # bfloat16, float8, 4-bit ...: ml_dtypes' types, through onnx

    return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))


# typed fields that hold each plain numeric element type (TensorProto's own layout)
_FIELDS = {1: "float_data", 11: "double_data", 7: "int64_data", 12: "uint64_data", 13: "uint64_data",
           2: "int32_data", 3: "int32_data", 4: "int32_data", 5: "int32_data", 6: "int32_data", 9: "int32_data",
           10: "int32_data"}


def to_array(tensor: TensorProto) -> np.ndarray:
    """``onnx.numpy_helper.to_array`` for plain numeric tensors held in the model (raw data or typed fields);
    anything else goes to onnx."""
    import numpy as np

    kind = tensor.data_type
    plain = kind in _FIELDS and not tensor.HasField("segment") and tensor.data_location != 1  # 1: EXTERNAL
    if not plain:
        from onnx import numpy_helper

        return numpy_helper.to_array(tensor)
    dims = tuple(tensor.dims)
    dtype = np.dtype(_NUMPY_TYPES[kind])
    if tensor.HasField("raw_data"):
        return np.frombuffer(tensor.raw_data, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(dims)
    values = getattr(tensor, _FIELDS[kind])
    if kind == 10:  # float16: the bits, one per int32
        return np.asarray(values, dtype=np.uint16).view(np.float16).reshape(dims)
    return np.asarray(values, dtype=dtype).reshape(dims)


_PACKED_4BIT = frozenset({21, 22, 23})  # UINT4, INT4, FLOAT4E2M1: two elements per byte
# the field holding each type's elements (complex: two numbers each; bfloat16 and float8 one per int32)
_TYPED_COUNTS = {**_FIELDS, 8: "string_data", 14: "float_data", 15: "double_data",
                 **dict.fromkeys((16, 17, 18, 19, 20), "int32_data")}


def data_size_problem(tensor: TensorProto) -> str | None:
    """What is wrong when a tensor held in the model does not hold as many elements as its shape says (a
    truncated or hand-edited file; ONNX Runtime refuses it, onnx's own readers fail in numpy), else None.
    External data is checked where it is read."""
    if tensor.data_location == 1 or tensor.HasField("segment"):  # 1: EXTERNAL
        return None
    dims = list(tensor.dims)
    if any(d < 0 for d in dims):
        return f"has a negative dimension in its shape {dims}"
    count = 1
    for d in dims:
        count *= d
    if tensor.HasField("raw_data"):
        if tensor.data_type == 8:  # strings are never raw
            return "holds strings as raw bytes"
        try:
            itemsize = np_dtype(tensor.data_type).itemsize
        except (KeyError, ValueError, TypeError):
            return None  # an element type ONNX does not define: said where it is read
        need = (count + 1) // 2 if tensor.data_type in _PACKED_4BIT else count * itemsize
        have = len(tensor.raw_data)
        return None if have == need else f"holds {have:,} bytes, its shape {dims} needs {need:,}"
    name = _TYPED_COUNTS.get(tensor.data_type)
    held = len(getattr(tensor, name)) if name else None
    if held is None:
        return None
    if tensor.data_type in (14, 15):  # complex: two numbers per element
        held //= 2
    if held != count and not (held == 0 and count == 0):
        return f"holds {held:,} values, its shape {dims} needs {count:,}"
    return None
