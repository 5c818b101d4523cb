"""Reading and writing ONNX files at the edges: one clear error for every way a file can be wrong, external
data confined to the model's folder and checked before it is read (``external_data``), atomic writes (data
first, model last), the user's input never overwritten."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from google.protobuf.message import DecodeError

from onnpu.errors import ModelError, OutputError
from onnpu.guards import check_destination, file_kind, printable, same_file, write_error
from onnpu.model import external_data as _external
from onnpu.model import limits, proto
from onnpu.model.external_data import check_external_data, external_data_files, external_tensors
from onnpu.model.graphs import bodies
from onnpu.paths import lock_file
from onnpu.storage import commit, locked, new_temp, probe_writable

if TYPE_CHECKING:
    import onnx

__all__ = ["check_external_data", "check_output", "external_data_files", "external_tensors", "metadata",
           "model_files", "read_model", "read_model_and_layout", "set_metadata", "validate_model_file", "write_model"]

EXTERNAL_DATA_THRESHOLD = 1024
PROTOBUF_LIMIT = 2_000_000_000


def parse_model_file(path: str | Path) -> onnx.ModelProto:
    """The model's protobuf, without its external data (which is neither checked nor read here)."""
    p = Path(path)
    if not p.exists():
        raise ModelError(f"{p}: no such file", hint="check the path of the model")
    if p.is_dir():
        raise ModelError(f"{p}: is a folder, not an ONNX file", hint="pass the .onnx file inside it")
    info = p.stat()
    if not stat.S_ISREG(info.st_mode):
        raise ModelError(f"{p}: is {file_kind(info.st_mode)}, not a regular file; onnpu reads models only from "
                         "regular files", hint="copy the model to a file first")
    if info.st_size == 0:
        raise ModelError(f"{p}: the file is empty (0 bytes)", hint="copy or export the model again")
    limits.check_file_size(p, info.st_size)
    try:
        model = proto.load_model(p)  # as onnx.load(p, load_external_data=False), without onnx's package import
    except PermissionError as exc:
        raise ModelError(f"{p}: cannot read the file ({exc.strerror})", hint="check its permissions") from exc
    except (DecodeError, RuntimeError, ValueError, OSError) as exc:
        raise ModelError(f"{p}: not a valid ONNX model (truncated or corrupt: {type(exc).__name__})",
                         hint="export or download the model again") from exc
    if not model.graph.node and not model.graph.output:
        raise ModelError(f"{p}: not a valid ONNX model (no graph inside)",
                         hint="export or download the model again")
    limits.check_nodes(p, model.graph)
    limits.check_loops(p, model.graph)
    _check_names(p, model.graph)
    _check_tensor_data(p, model.graph)
    looped = _cycle(model.graph)
    if looped is not None:
        raise ModelError(f"{p}: not a valid ONNX model: its graph has a cycle (node {looped.name or looped.op_type!r} "
                         "reads, through other nodes, what it makes)", hint="export the model again")
    return model


def _not_text(graph: onnx.GraphProto) -> bytes | None:
    """The first name in ``graph`` (and the graphs inside its nodes) that is not valid UTF-8: protobuf hands such a
    string field back as bytes, which every later step would trip over."""
    names = [*(v.name for v in (*graph.input, *graph.output, *graph.value_info)), *(t.name for t in graph.initializer)]
    for node in graph.node:
        names += [node.name, node.op_type, *node.input, *node.output]
        for attribute in node.attribute:
            inner = [attribute.g] if attribute.HasField("g") else []
            for sub in (*inner, *attribute.graphs):
                found = _not_text(sub)
                if found is not None:
                    return found
    return next((n for n in names if isinstance(n, bytes)), None)


def _cycle(graph: onnx.GraphProto) -> onnx.NodeProto | None:
    """A node of ``graph`` on a cycle (its inputs made, through other nodes, from its own outputs), else None:
    Kahn's order over the nodes that read what other nodes of the graph make."""
    made_by = {out: k for k, node in enumerate(graph.node) for out in node.output if out}
    waiting = [len({made_by[i] for i in node.input if i in made_by}) for node in graph.node]
    readers: dict[int, list[int]] = {}
    for k, node in enumerate(graph.node):
        for maker in {made_by[i] for i in node.input if i in made_by}:
            readers.setdefault(maker, []).append(k)
    ready = [k for k, count in enumerate(waiting) if count == 0]
    done = 0
    while ready:
        k = ready.pop()
        done += 1
        for reader in readers.get(k, ()):
            waiting[reader] -= 1
            if waiting[reader] == 0:
                ready.append(reader)
    if done == len(graph.node):
        return None
    return next(node for k, node in enumerate(graph.node) if waiting[k] > 0)


def _check_names(path: Path, graph: onnx.GraphProto) -> None:
    found = _not_text(graph)
    if found is not None:
        raise ModelError(f"{path}: a tensor or node name is not valid UTF-8 text ({found[:40]!r}); ONNX names are "
                         "UTF-8 strings", hint="export the model again, or rename the tensor with the onnx package")


def _check_tensor_data(path: Path, graph: onnx.GraphProto) -> None:
    """Every weight held in the file holds as many elements as its shape says (the graphs inside nodes too)."""
    for node in graph.node:
        for _, body in bodies(node):
            _check_tensor_data(path, body)
    constants = [(f"constant {n.name or n.output[0]!r}" if n.output else "a constant", a.t) for n in graph.node
                 if n.op_type == "Constant" for a in n.attribute if a.HasField("t")]
    for what, tensor in [*((f"weight {t.name!r}", t) for t in graph.initializer), *constants]:
        problem = proto.data_size_problem(tensor)
        if problem is not None:
            raise ModelError(f"{path}: {printable(what)} is damaged: it {problem}",
                             hint="the file is truncated or was written wrongly: export or download the model again")


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size


# a reader retries only while the model file keeps being replaced under it (a writer in a loop on a busy
# machine can replace it three times during one read); data really missing fails at the first attempt
READ_ATTEMPTS = 20


def read_model(path: str | Path, *, load_external_data: bool = True) -> onnx.ModelProto:
    """Load an ONNX model with a one-line error for every way the file can be wrong. External data is
    always checked (confined to the model's folder, long enough); with ``load_external_data`` it is read.
    When the data does not fit because the model file was replaced meanwhile, the new model is read."""
    return read_model_and_layout(path, load_external_data=load_external_data)[0]


def read_model_and_layout(path: str | Path, *, load_external_data: bool = True) -> tuple[onnx.ModelProto, bool]:
    """``read_model``, and whether the model keeps its weights in external data (from the same parse: writers
    keep the layout the user's model had)."""
    p = Path(path)
    for attempt in range(READ_ATTEMPTS):
        before = _identity(p)
        model = parse_model_file(p)
        had_external = bool(external_tensors(model))
        try:
            if load_external_data:
                _external.load_external_data(model, p)
            else:
                check_external_data(model, p)
            return model, had_external
        except ModelError:
            if attempt == READ_ATTEMPTS - 1 or _identity(p) == before:
                raise
    raise AssertionError("unreachable")


def validate_model_file(path: str | Path) -> onnx.ModelProto:
    """Check a model file before handing its path to ONNX Runtime; returns the graph without weights. What
    ONNX Runtime will hold (the file and its external data, at least once) must fit in memory."""
    model = read_model(path, load_external_data=False)
    need = sum(f.stat().st_size for f in model_files(path))
    limits.check_memory(path, 2 * need, "loading the model")
    return model


def metadata(model: onnx.ModelProto) -> dict[str, str]:
    """The model's ``metadata_props`` as a dict."""
    return {m.key: m.value for m in model.metadata_props}


def set_metadata(model: onnx.ModelProto, entries: dict[str, str]) -> None:
    """Add or replace ``metadata_props`` entries (in place)."""
    for key, value in entries.items():
        entry = next((m for m in model.metadata_props if m.key == key), None) or model.metadata_props.add()
        entry.key, entry.value = key, value


def model_files(path: str | Path) -> list[Path]:
    """A model file and the external-data files it refers to (those that exist; locations are not trusted
    here, only compared): everything a writer must not overwrite when the model is one of its inputs."""
    p = Path(path)
    files = [p]
    try:
        names = external_data_files(proto.load_model(p)) if p.is_file() else []
    except Exception:  # an unreadable model has no data files anyone could lose
        names = []
    for name in names:
        candidate = p.parent / name
        if name and candidate.exists():
            files.append(candidate)
    return files


def check_output(out: str | Path, *, inputs: tuple[str | Path, ...] = (), force: bool = False,
                 others: tuple[str | Path, ...] = (), what: str = "model") -> tuple[Path, Path]:
    """Fail early, before any work, when ``out`` cannot be written, is a link or special file, or would
    replace one of the input models ``inputs`` (their external data included) or other input files
    ``others`` (labels, calibration files). ``force`` allows replacing an input model file itself (its
    external data never: the new model's data goes under another name)."""
    target = Path(out)
    for src in inputs:
        model, *data = model_files(src)
        if same_file(model, target) and not force:
            raise OutputError(f"{target}: output would overwrite the input model",
                              hint="choose another -o path (or pass --force to replace it)")
        check_destination(target, inputs=data, what=what)
    check_destination(target, inputs=others, what=what)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{target}: the output folder {parent} does not exist", hint="create it first")
    try:
        probe_writable(parent)
    except OSError as exc:  # read-only or protected folder (os.access says yes to root)
        raise OutputError(f"{target}: cannot write in {parent} ({exc.strerror})",
                          hint="choose a writable folder with -o") from exc
    return target, parent


def _data_names(target: Path, avoid: set[str]) -> tuple[str, list[str]]:
    """The name for the new data file of ``target``, and the data files of the model being replaced that
    are garbage once the new model is in place. The new name is neither one the replaced model uses (it
    keeps reading its own, complete data until the new model replaces it, whoever reads it meanwhile and
    whenever the writer dies) nor one of ``avoid`` (the data files of the command's input models) nor a file
    already there that the replaced model does not read: ``<name>.data``, else ``<name>.1.data``, ``<name>.2.data`` …"""
    try:
        old = set(external_data_files(parse_model_file(target))) if target.is_file() else set()
    except ModelError:
        old = set()
    ours = [f"{target.name}.data", *(f"{target.name}.{i}.data" for i in range(1, 64))]
    # a file of that name that no model being replaced reads is someone else's: never written over
    name = next((n for n in ours if n not in old and n not in avoid and not os.path.lexists(target.parent / n)), None)
    if name is None:
        raise OutputError(f"{target}: {len(ours)} data files named after it are already in {target.parent}",
                          hint=f"remove the {target.name}.*.data files no model uses, or choose another -o path")
    return name, [n for n in ours if n in old and n != name and n not in avoid]


def write_model(model: onnx.ModelProto, out: str | Path, *, inputs: tuple[str | Path, ...] = (),
                force: bool = False, external_data: bool | None = None,
                size_threshold: int = EXTERNAL_DATA_THRESHOLD) -> Path:
    """Write ``model`` atomically to ``out`` (and ``out.data`` when the weights go beside it).

    ``inputs`` are the user's files: writing over one of them is refused unless ``force``. External data is
    used when asked, or automatically when the model would not fit in one protobuf. The data file is
    complete and in place before the model that refers to it, under a name the replaced model does not
    use (``_data_names``); ``model`` itself is left untouched.
    """

    target, parent = check_output(out, inputs=inputs, force=force)
    avoid = {f.name for src in inputs for f in model_files(src)[1:] if f.parent.resolve() == parent.resolve()}
    with locked(lock_file("outputs", str(target.resolve()))):  # one writer of this path at a time
        return _write_model(model, target, parent, avoid, external_data, size_threshold)


def _write_model(model: onnx.ModelProto, target: Path, parent: Path, avoid: set[str], external_data: bool | None,
                 size_threshold: int) -> Path:
    import onnx

    if external_data is None:
        external_data = model.ByteSize() > PROTOBUF_LIMIT if not external_tensors(model) else True
    try:
        tmp = new_temp(target)
    except OSError as exc:
        raise write_error(exc, "model", target, hint="choose a writable folder with -o") from exc
    tmp_data = parent / f"{tmp.name}.data"
    stale: list[str] = []
    try:
        if external_data:
            data_name, stale = _data_names(target, avoid)
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
            _, stale = _data_names(target, avoid)
        commit(tmp, target)
    except OSError as exc:
        raise write_error(exc, "model", target) from exc
    finally:
        for leftover in (tmp, tmp_data):
            if leftover.exists():
                leftover.unlink()
    for name in stale:  # the replaced model's own data, now read by nobody who opens the path
        (parent / name).unlink(missing_ok=True)
    return target
