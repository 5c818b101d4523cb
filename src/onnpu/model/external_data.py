"""External data of a model, treated as untrusted input: every location a model names is confined to the
model's folder (no absolute path, no ``..``, no link that leads outside), and every offset and length is
checked against the file before a byte is read. onnpu reads external data itself, with these checks, rather
than through ``onnx.load_external_data_for_model``."""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, BinaryIO

from onnpu.errors import ModelError
from onnpu.model import proto

if TYPE_CHECKING:
    import onnx

UNTRUSTED_HINT = ("a model may only read data files inside its own folder: put the data file beside the model "
                  "and name it by a relative path (or get the model from a source you trust)")


@dataclass(frozen=True)
class ExternalRef:
    """Where one tensor's bytes live: ``location`` relative to the model's folder, from ``offset`` on,
    ``length`` bytes (``None``: up to the end of the file)."""

    tensor: onnx.TensorProto
    location: str
    offset: int
    length: int | None

    @property
    def name(self) -> str:
        return self.tensor.name


def _graph_tensors(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        yield from _node_tensors(node)


def _node_tensors(node: onnx.NodeProto) -> Iterator[onnx.TensorProto]:
    for attr in node.attribute:
        if attr.HasField("t"):
            yield attr.t
        yield from attr.tensors
        if attr.HasField("sparse_tensor"):
            yield attr.sparse_tensor.values
            yield attr.sparse_tensor.indices
        for sparse in attr.sparse_tensors:
            yield sparse.values
            yield sparse.indices
        if attr.HasField("g"):
            yield from _graph_tensors(attr.g)
        for graph in attr.graphs:
            yield from _graph_tensors(graph)


def all_tensors(model: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    """Every tensor a model holds: initializers (also sparse), node attributes, subgraphs (If, Loop, Scan
    bodies) and local functions, at any depth."""
    yield from _graph_tensors(model.graph)
    for function in model.functions:
        for node in function.node:
            yield from _node_tensors(node)


def external_tensors(model: onnx.ModelProto) -> list[onnx.TensorProto]:
    """Tensors whose data lives in an external file."""
    return [t for t in all_tensors(model) if t.HasField("data_location")
            and t.data_location == proto.TensorProto.EXTERNAL]


def external_data_files(model: onnx.ModelProto) -> list[str]:
    """The locations (relative paths) of the external-data files a model refers to."""
    entries = ({e.key: e.value for e in t.external_data} for t in external_tensors(model))
    return sorted({e.get("location", "") for e in entries})


def _refuse(source: str | Path, message: str, hint: str = UNTRUSTED_HINT) -> ModelError:
    return ModelError(f"{source}: {message}", hint=hint)


def _parse_int(tensor: onnx.TensorProto, key: str, value: str | None, source: str | Path) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise _refuse(source, f"tensor {tensor.name!r} has an invalid external-data {key} {value!r}",
                      "export or download the model again")
    return number


def external_ref(tensor: onnx.TensorProto, source: str | Path) -> ExternalRef:
    """The tensor's external-data entry, parsed (unknown keys are ignored, as ONNX does)."""
    entries = {e.key: e.value for e in tensor.external_data}
    return ExternalRef(tensor, entries.get("location", ""),
                       _parse_int(tensor, "offset", entries.get("offset"), source) or 0,
                       _parse_int(tensor, "length", entries.get("length"), source))


def check_location(name: str, location: str, source: str | Path) -> None:
    """Refuse a location that is empty, absolute or climbs out with ``..`` (no file system access: this
    also guards downloads before any request)."""
    what = f"tensor {name!r} names external data {location!r}"
    if not location:
        raise _refuse(source, f"tensor {name!r} has external data without a location",
                      "export or download the model again")
    if "\x00" in location:
        raise _refuse(source, f"tensor {name!r} names external data by an invalid path {location!r}")
    windows = PureWindowsPath(location)
    if PurePosixPath(location).is_absolute() or windows.drive or windows.root:
        raise _refuse(source, f"{what}, an absolute path outside the model's folder")
    if ".." in location.replace("\\", "/").split("/"):
        raise _refuse(source, f"{what}, a path outside the model's folder (..)")


def check_locations(model: onnx.ModelProto, source: str | Path) -> list[ExternalRef]:
    """Every external reference of ``model``, each location checked (``check_location``)."""
    refs = [external_ref(t, source) for t in external_tensors(model)]
    for ref in refs:
        check_location(ref.name, ref.location, source)
    return refs


def expected_bytes(tensor: onnx.TensorProto) -> int | None:
    """How many bytes the tensor's shape and element type need (``None`` when that cannot be said)."""
    if any(d < 0 for d in tensor.dims) or tensor.data_type == proto.TensorProto.STRING:
        return None
    try:
        itemsize = proto.np_dtype(tensor.data_type).itemsize
    except (KeyError, ValueError, TypeError):
        return None
    count = math.prod(tensor.dims)
    if tensor.data_type in _PACKED_4BIT:
        return (count + 1) // 2
    return count * itemsize


_PACKED_4BIT = {21, 22, 23}  # TensorProto.UINT4, INT4, FLOAT4E2M1: two elements per byte


def _resolve_inside(folder: Path, root: Path, ref: ExternalRef, source: str | Path) -> Path:
    data = folder / ref.location
    try:
        resolved = data.resolve()
    except (OSError, RuntimeError) as exc:  # a link loop
        raise _refuse(source, f"tensor {ref.name!r} names external data {ref.location!r}, which cannot be "
                              f"resolved ({exc})") from exc
    if not resolved.is_relative_to(root):
        raise _refuse(source, f"tensor {ref.name!r} names external data {ref.location!r}, a link to {resolved}, "
                              "outside the model's folder",
                      f"copy {resolved.name} into the model's folder instead of linking to it (a model may only "
                      "read data files inside its own folder)")
    return data


def _read_span(ref: ExternalRef, size: int, data: Path, source: str | Path) -> tuple[int, int]:
    """(offset, length) to read for ``ref`` from a file of ``size`` bytes; refused when out of bounds or
    when the length does not fit the tensor's shape."""
    expected = expected_bytes(ref.tensor)
    length = ref.length if ref.length is not None else expected if expected is not None else size - ref.offset
    if ref.length is not None and expected is not None and ref.length != expected:
        shape = [int(d) for d in ref.tensor.dims]
        raise _refuse(source, f"tensor {ref.name!r} has {ref.length} bytes of external data, its shape {shape} "
                              f"needs {expected}", "the model is corrupt: export or download it again")
    if ref.offset + max(length, 0) > size or length < 0:
        raise _refuse(source, f"external-data file {data.name} is too short ({size} bytes, tensor {ref.name!r} "
                              f"needs {ref.offset + max(length, 0)})",
                      f"the file is truncated or belongs to another model: copy {data.name} again")
    return ref.offset, length


def check_external_data(model: onnx.ModelProto, path: Path) -> list[tuple[ExternalRef, Path, int, int]]:
    """Every external-data reference confined to the model's folder (also through links), its file a
    regular file long enough for the bytes the tensor names. Returns (reference, file, offset, length)."""
    folder = path.parent if str(path.parent) else Path(".")
    root = folder.resolve()
    checked = []
    for ref in check_locations(model, path):
        data = _resolve_inside(folder, root, ref, path)
        try:
            info = os.stat(data)
        except FileNotFoundError:
            raise ModelError(f"{path}: external-data file {ref.location!r} is missing (expected at {data})",
                             hint=f"keep {ref.location} in the same folder as {path.name}") from None
        except OSError as exc:
            raise ModelError(f"{path}: cannot read external-data file {ref.location!r} ({exc.strerror})",
                             hint="check its permissions") from exc
        if stat.S_ISDIR(info.st_mode):
            raise _refuse(path, f"tensor {ref.name!r} names external data {ref.location!r}, which is a folder, "
                                "not a file", "export or download the model again")
        if not stat.S_ISREG(info.st_mode):
            raise _refuse(path, f"tensor {ref.name!r} names external data {ref.location!r}, which is not a "
                                "regular file", "export or download the model again")
        offset, length = _read_span(ref, info.st_size, data, path)
        checked.append((ref, data, offset, length))
    return checked


def load_external_data(model: onnx.ModelProto, path: Path) -> None:
    """Read every external tensor's bytes into ``model`` (in place), after ``check_external_data``."""
    spans = check_external_data(model, path)
    from onnpu.model.limits import check_memory

    # the bytes end up inside the protobuf: refuse up front what cannot fit (a sparse 8 GiB file included)
    check_memory(path, 2 * sum(length for _, _, _, length in spans), "reading its external data")
    handles: dict[Path, BinaryIO] = {}
    try:
        for ref, data, offset, length in spans:
            try:
                f = handles.get(data)
                if f is None:
                    f = handles[data] = data.open("rb")
                f.seek(offset)
                raw = f.read(length)
            except MemoryError:
                raise ModelError(f"{path}: out of memory reading external-data file {ref.location!r}",
                                 hint="run it on a machine with more memory") from None
            except OSError as exc:  # removed or replaced since it was checked
                raise ModelError(f"{path}: cannot read external-data file {ref.location!r} ({exc.strerror})",
                                 hint=f"keep {ref.location} in the same folder as {path.name}") from exc
            if len(raw) != length:  # the file shrank since it was checked
                raise ModelError(f"{path}: external-data file {data.name} is too short (tensor {ref.name!r})",
                                 hint=f"the file is truncated: copy {data.name} again")
            ref.tensor.raw_data = raw
            ref.tensor.data_location = proto.TensorProto.DEFAULT
            del ref.tensor.external_data[:]
    finally:
        for f in handles.values():
            f.close()
