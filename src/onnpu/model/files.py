"""Reading and writing ONNX files at the edges: one clear error for every way a file can be wrong, external
data kept beside the model, atomic writes (data first, model last), the user's input never overwritten."""

from __future__ import annotations

import tempfile
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError
from onnx.external_data_helper import ExternalDataInfo, uses_external_data

from onnpu.errors import ModelError, OutputError
from onnpu.storage import commit, new_temp

EXTERNAL_DATA_THRESHOLD = 1024
PROTOBUF_LIMIT = 2_000_000_000


def external_tensors(model: onnx.ModelProto) -> list[onnx.TensorProto]:
    """Tensors (initializers and Constant-node values) whose data lives in an external file."""
    tensors = list(model.graph.initializer)
    for node in model.graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR:
                tensors.append(attr.t)
    return [t for t in tensors if uses_external_data(t)]


def external_data_files(model: onnx.ModelProto) -> list[str]:
    """Relative paths of the external-data files a model refers to (model loaded without its data)."""
    return sorted({ExternalDataInfo(t).location for t in external_tensors(model)})


def check_external_data(model: onnx.ModelProto, path: Path) -> None:
    """Every external-data file exists and is long enough for every tensor that points into it."""
    for tensor in external_tensors(model):
        info = ExternalDataInfo(tensor)
        data = path.parent / info.location
        if not data.is_file():
            raise ModelError(f"{path}: external-data file {info.location!r} is missing (expected at {data})",
                             hint=f"keep {info.location} in the same folder as {path.name}")
        need = (info.offset or 0) + (info.length or 0)
        if info.length and data.stat().st_size < need:
            raise ModelError(f"{path}: external-data file {data.name} is too short "
                             f"({data.stat().st_size} bytes, tensor {tensor.name!r} needs {need})",
                             hint=f"the file is truncated: copy {data.name} again")


def read_model(path: str | Path, *, load_external_data: bool = True) -> onnx.ModelProto:
    """Load an ONNX model with a one-line error for every way the file can be wrong."""
    p = Path(path)
    if not p.exists():
        raise ModelError(f"{p}: no such file", hint="check the path of the model")
    if p.is_dir():
        raise ModelError(f"{p}: is a folder, not an ONNX file", hint="pass the .onnx file inside it")
    if p.stat().st_size == 0:
        raise ModelError(f"{p}: the file is empty (0 bytes)", hint="copy or export the model again")
    try:
        model = onnx.load(str(p), load_external_data=False)
    except PermissionError as exc:
        raise ModelError(f"{p}: cannot read the file ({exc.strerror})", hint="check its permissions") from exc
    except (DecodeError, RuntimeError, ValueError, OSError) as exc:
        raise ModelError(f"{p}: not a valid ONNX model (truncated or corrupt: {type(exc).__name__})",
                         hint="export or download the model again") from exc
    if not model.graph.node and not model.graph.output:
        raise ModelError(f"{p}: not a valid ONNX model (no graph inside)",
                         hint="export or download the model again")
    check_external_data(model, p)
    if load_external_data and external_tensors(model):
        onnx.load_external_data_for_model(model, str(p.parent))
    return model


def validate_model_file(path: str | Path) -> onnx.ModelProto:
    """Check a model file before handing its path to ONNX Runtime; returns the graph without weights."""
    return read_model(path, load_external_data=False)


def metadata(model: onnx.ModelProto) -> dict[str, str]:
    """The model's ``metadata_props`` as a dict."""
    return {m.key: m.value for m in model.metadata_props}


def set_metadata(model: onnx.ModelProto, entries: dict[str, str]) -> None:
    """Add or replace ``metadata_props`` entries (in place)."""
    for key, value in entries.items():
        entry = next((m for m in model.metadata_props if m.key == key), None) or model.metadata_props.add()
        entry.key, entry.value = key, value


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def check_output(out: str | Path, *, inputs: tuple[str | Path, ...] = (), force: bool = False) -> tuple[Path, Path]:
    """Fail early, before any work, when ``out`` cannot be written or would replace one of ``inputs``."""
    target = Path(out)
    for src in inputs:
        if _same_file(Path(src), target) and not force:
            raise OutputError(f"{target}: output would overwrite the input model",
                              hint="choose another -o path (or pass --force to replace it)")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{target}: the output folder {parent} does not exist", hint="create it first")
    try:
        with tempfile.NamedTemporaryFile(prefix=f".{target.name}.", suffix=".probe", dir=parent):
            pass
    except OSError as exc:  # read-only or protected folder (os.access says yes to root)
        raise OutputError(f"{target}: cannot write in {parent} ({exc.strerror})",
                          hint="choose a writable folder with -o") from exc
    return target, parent


def write_model(model: onnx.ModelProto, out: str | Path, *, inputs: tuple[str | Path, ...] = (),
                force: bool = False, external_data: bool | None = None,
                size_threshold: int = EXTERNAL_DATA_THRESHOLD) -> Path:
    """Write ``model`` atomically to ``out`` (and ``out.data`` when the weights go beside it).

    ``inputs`` are the user's files: writing over one of them is refused unless ``force``. External data is
    used when asked, or automatically when the model would not fit in one protobuf. The data file is
    published before the model that refers to it; ``model`` itself is left untouched.
    """
    target, parent = check_output(out, inputs=inputs, force=force)
    if external_data is None:
        external_data = model.ByteSize() > PROTOBUF_LIMIT if not external_tensors(model) else True
    data_name = target.name + ".data"
    try:
        tmp = new_temp(target)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write in {parent} ({exc.strerror})",
                          hint="choose a writable folder with -o") from exc
    tmp_data = parent / f"{tmp.name}.data"
    try:
        if external_data:
            work = onnx.ModelProto()
            work.CopyFrom(model)  # onnx strips the tensors it moves out: never the caller's model
            # onnx writes the data under the location it is given: a temporary name, pointed at the final
            # name once the data is complete
            onnx.save_model(work, str(tmp), save_as_external_data=True, all_tensors_to_one_file=True,
                            location=tmp_data.name, size_threshold=size_threshold)
            for tensor in external_tensors(work):
                for entry in tensor.external_data:
                    if entry.key == "location":
                        entry.value = data_name
            onnx.save_model(work, str(tmp))
            if tmp_data.exists():  # no data file when every tensor is under the size threshold
                commit(tmp_data, parent / data_name)
        else:
            onnx.save_model(model, str(tmp))
        commit(tmp, target)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write the model ({exc.strerror or exc})",
                          hint="check free space and permissions of the output folder") from exc
    finally:
        for leftover in (tmp, tmp_data):
            if leftover.exists():
                leftover.unlink()
    return target
