"""``fix-shapes``: symbolic dims and input shapes fixed with ONNX Runtime's own helpers, then shape
inference, then proof that nothing dynamic is left."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from onnpu.errors import ShapeError
from onnpu.model._ort_tools import ort_tool
from onnpu.model.files import check_output, read_model_and_layout, write_model
from onnpu.model.inspection import graph_inputs, tensor_infos


@dataclass
class FixShapesResult:
    source: str
    output: str | None
    changes: list[str]
    inputs: dict[str, list[Any]]
    outputs: dict[str, list[Any]]
    remaining: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "output": self.output, "changes": self.changes, "inputs": self.inputs,
                "outputs": self.outputs, "remaining_dynamic": self.remaining}


def parse_shape_spec(text: str) -> tuple[str, list[int]]:
    """``name=1,3,224,224`` (as given to ``--input``)."""
    name, sep, dims = text.partition("=")
    try:
        shape = [int(d) for d in dims.replace("x", ",").split(",") if d.strip()]
    except ValueError:
        shape = []
    if not sep or not name or not shape or any(d < 1 for d in shape):
        raise ShapeError(f"--input {text!r} is not NAME=D0,D1,... with positive integers",
                         hint="e.g. --input x=1,3,640,640")
    return name, shape


def _dim_params(model: onnx.ModelProto) -> set[str]:
    values = [*model.graph.input, *model.graph.output, *model.graph.value_info]
    return {d.dim_param for v in values for d in v.type.tensor_type.shape.dim if d.HasField("dim_param")}


def dims_from(dynamic: onnx.ModelProto, fixed: onnx.ModelProto) -> dict[str, int]:
    """The symbolic input dims of ``dynamic`` that ``fixed`` sets (the same model with fixed input shapes, such as
    the copy ``prepare`` wrote): same input name and rank; a dim name given two values is left out."""
    found: dict[str, set[int]] = {}
    given = {v.name: v.type.tensor_type.shape.dim for v in fixed.graph.input}
    for value in dynamic.graph.input:
        mine, theirs = value.type.tensor_type.shape.dim, given.get(value.name)
        if theirs is None or len(mine) != len(theirs):
            continue
        for a, b in zip(mine, theirs, strict=True):
            if a.HasField("dim_param") and b.HasField("dim_value") and b.dim_value > 0:
                found.setdefault(a.dim_param, set()).add(int(b.dim_value))
    return {name: next(iter(values)) for name, values in found.items() if len(values) == 1}


def inputs_source(model: onnx.ModelProto, partner: onnx.ModelProto,
                  dims: Mapping[str, int] | None = None) -> onnx.ModelProto:
    """The model to make data for when two versions of one model run on the same inputs: ``model``, its inputs'
    dynamic dims that no ``--dim`` fixes (unnamed ones among them) taken from ``partner``'s input of the same name
    and rank where that one is fixed (a copy; ``model`` itself when there is nothing to take)."""
    given = {i.name: i.shape for i in tensor_infos(partner)[0]}
    plan: dict[str, list[int]] = {}
    for info in tensor_infos(model)[0]:
        mine, theirs = info.with_dims(dims).shape, given.get(info.name)
        if theirs is None or len(theirs) != len(mine) or not info.with_dims(dims).is_dynamic:
            continue
        if all(isinstance(d, int) for d in theirs):
            plan[info.name] = [int(d) for d in theirs]  # type: ignore[arg-type]
    if not plan:
        return model
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for value in copy.graph.input:
        for d, size in zip(value.type.tensor_type.shape.dim, plan.get(value.name, []), strict=False):
            d.dim_value = size
    return copy


def dynamic_dims(model: onnx.ModelProto) -> dict[str, list[str]]:
    """Graph inputs and outputs that still have a dim that is not a fixed positive integer, or no shape at all
    (an empty list: the file says nothing of its rank). A scalar (a shape of no dims) is fixed."""
    inputs, outputs = tensor_infos(model)
    shapeless = {v.name for v in (*graph_inputs(model), *model.graph.output)
                 if v.type.HasField("tensor_type") and not v.type.tensor_type.HasField("shape")}
    return {t.name: t.dynamic_dims for t in (*inputs, *outputs) if t.is_dynamic or t.name in shapeless}


def _check_requests(model: onnx.ModelProto, dims: Mapping[str, int], shapes: Mapping[str, Sequence[int]],
                    source: str, override: bool = False) -> None:
    known_params = _dim_params(model)
    for name in dims:
        if name not in known_params:
            listed = ", ".join(sorted(known_params)) or "none"
            raise ShapeError(f"{source}: no dimension named {name!r} (the model's symbolic dims: {listed})",
                             hint="use a name `onnpu inspect` shows, or --input NAME=SHAPE for unnamed dims")
    by_name = {v.name: v for v in graph_inputs(model)}
    for name, shape in shapes.items():
        value = by_name.get(name)
        if value is None:
            raise ShapeError(f"{source}: no input named {name!r}", hint="the model's inputs are: " + ", ".join(by_name))
        if not value.type.tensor_type.HasField("shape"):  # the file gives no rank: the shape given is the shape
            continue
        dims_of = list(value.type.tensor_type.shape.dim)
        if len(dims_of) != len(shape):
            raise ShapeError(f"{source}: --input {name} gives {len(shape)} dims, the input has {len(dims_of)}",
                             hint=f"give all {len(dims_of)} dims of {name}")
        for i, (dim, size) in enumerate(zip(dims_of, shape, strict=True)):
            if dim.HasField("dim_value") and dim.dim_value > 0 and dim.dim_value != size and not override:
                raise ShapeError(f"{source}: --input {name} sets dim {i} to {size}, but it is fixed at {dim.dim_value}",
                                 hint="a model exported at one size that takes others (fully convolutional): "
                                      "--override-fixed changes fixed dims too")
            if dim.HasField("dim_param") and dim.dim_param in dims and dims[dim.dim_param] != size:
                raise ShapeError(f"{source}: --dim {dim.dim_param}={dims[dim.dim_param]} and --input {name} "
                                 f"(dim {i} = {size}) conflict", hint="give the same value, or only one of them")


def infer_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """ONNX shape inference (with data propagation); ONNX Runtime's symbolic inference where outputs stay
    dynamic."""
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    if any(t for t in dynamic_dims(inferred) if t in {o.name for o in inferred.graph.output}):
        try:
            symbolic = ort_tool("symbolic_shape_infer").SymbolicShapeInference.infer_shapes(inferred, auto_merge=True)
            if symbolic is not None:
                inferred = symbolic
        except Exception:  # symbolic inference is best effort: the dynamic dims are reported either way
            pass
    return inferred


def _unname_conflicting_dims(graph: onnx.GraphProto, name: str, shape: Sequence[int]) -> None:
    """A dim name that one input uses for dims given different sizes (paddle2onnx writes ``?`` for both height and
    width) is not one dimension: those dims are made unnamed, so fixing one does not fix the other."""
    value = next((v for v in graph.input if v.name == name), None)
    if value is None or len(value.type.tensor_type.shape.dim) != len(shape):
        return
    dims = list(value.type.tensor_type.shape.dim)
    sizes: dict[str, set[int]] = {}
    for dim, size in zip(dims, shape, strict=True):
        if dim.HasField("dim_param"):
            sizes.setdefault(dim.dim_param, set()).add(int(size))
    for dim in dims:
        if dim.HasField("dim_param") and len(sizes[dim.dim_param]) > 1:
            dim.Clear()


def _override_fixed(graph: onnx.GraphProto, shapes: Mapping[str, Sequence[int]]) -> bool:
    """Input dims the model fixes set to ``shapes`` (every output's dims then made unknown, for inference to
    recompute). Returns whether any fixed dim changed."""
    changed = False
    for value in graph.input:
        shape = shapes.get(value.name)
        if shape is None:
            continue
        for dim, size in zip(value.type.tensor_type.shape.dim, shape, strict=True):
            if dim.HasField("dim_value") and dim.dim_value > 0 and dim.dim_value != size:
                dim.dim_value = int(size)
                changed = True
    if changed:
        for out in graph.output:
            for dim in out.type.tensor_type.shape.dim:
                dim.Clear()
    return changed


def _check_consistent(model: onnx.ModelProto, source: str) -> None:
    """Strict shape inference: a graph that cannot take its new input shapes (a Reshape to a baked size) fails
    here, not later on the board."""
    try:
        onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as exc:
        raise _does_not_take(source, exc) from exc


def _does_not_take(source: str | Path, exc: BaseException) -> ShapeError:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    return ShapeError(f"{source}: the graph does not take the new input shape ({first})",
                      hint="this model computes sizes from the ones it was exported at: re-export it at the size "
                           "you need")


def fix_shapes_model(model: onnx.ModelProto, dims: Mapping[str, int] | None = None,
                     shapes: Mapping[str, Sequence[int]] | None = None, source: str = "model",
                     override: bool = False) -> tuple[onnx.ModelProto, list[str]]:
    """Pure transform: fix symbolic dims (``dims``) and whole input shapes (``shapes``), infer shapes.
    ``override``: input dims the model fixes may be changed too (then the graph is checked to take them).
    Returns the new model and the list of changes made."""
    dims, shapes = dict(dims or {}), dict(shapes or {})
    if not dims and not shapes:
        raise ShapeError(f"{source}: nothing to fix", hint="give --dim NAME=VALUE or --input NAME=D0,D1,...")
    _check_requests(model, dims, shapes, source, override)
    result = onnx.ModelProto()
    result.CopyFrom(model)
    before = {t.name: t.shape_text() for t in tensor_infos(result)[0]}
    overridden = override and _override_fixed(result.graph, shapes)
    changes = []
    utils = ort_tool("onnx_model_utils")  # ONNX Runtime's own helpers
    for name, value in dims.items():
        utils.make_dim_param_fixed(result.graph, name, int(value))
        changes.append(f"dim {name} = {value}")
    for name, shape in shapes.items():
        shapeless = next((v for v in result.graph.input if v.name == name and v.type.HasField("tensor_type")
                          and not v.type.tensor_type.HasField("shape")), None)
        if shapeless is not None:  # no rank in the file: the shape given becomes its shape
            for size in shape:
                shapeless.type.tensor_type.shape.dim.add().dim_value = int(size)
            changes.append(f"input {name} = {list(shape)} (it had no shape)")
            continue
        _unname_conflicting_dims(result.graph, name, shape)
        try:
            utils.make_input_shape_fixed(result.graph, name, list(shape))
        except ValueError as exc:
            raise ShapeError(f"{source}: cannot fix input {name!r}: {exc}", hint="check the shape") from exc
        changes.append(f"input {name} = {list(shape)}")
    # stale intermediate shapes would block inference from the new input shapes
    del result.graph.value_info[:]
    if overridden:
        _check_consistent(result, source)
    try:
        result = infer_shapes(result)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise ShapeError(f"{source}: ONNX's shape inference rejects the graph ({first})",
                         hint="check the model with onnx.checker.check_model(path, full_check=True); re-export it "
                              "with the opsets it uses declared") from exc
    after = {t.name: t.shape_text() for t in tensor_infos(result)[0]}
    changes += [f"{name}: {before[name]} → {after[name]}" for name in before if before[name] != after[name]]
    return result, changes


def fix_shapes(model: str | Path, out: str | Path | None, *, dims: Mapping[str, int] | None = None,
               shapes: Mapping[str, Sequence[int]] | None = None, allow_dynamic: bool = False,
               force: bool = False, override: bool = False,
               check: Callable[[onnx.ModelProto], None] | None = None) -> FixShapesResult:
    """Fix dims of ``model`` and write the result to ``out`` (never over the input unless ``force``).
    ``override``: change input dims the model fixes too (a fully convolutional model exported at one size);
    ``check`` is then given the result before anything is written (the CLI runs it once on the CPU: a Reshape
    to a size baked at export passes shape inference but not a run).

    Raises ShapeError listing every dim still dynamic unless ``allow_dynamic``.
    """
    src = Path(model)
    if out is not None:
        check_output(out, inputs=(src,), force=force)
    proto, had_external = read_model_and_layout(src)
    fixed, changes = fix_shapes_model(proto, dims, shapes, str(src), override)
    if override and check is not None and shapes:
        try:
            check(fixed)
        except Exception as exc:
            raise _does_not_take(src, exc) from exc
    remaining = dynamic_dims(fixed)
    if remaining and not allow_dynamic:
        listed = "; ".join(f"{name}: {', '.join(d) or 'no shape'}" for name, d in remaining.items())
        raise ShapeError(f"{src}: dynamic dims remain after fixing: {listed}",
                         hint="fix them too (--dim NAME=VALUE / --input NAME=SHAPE) or pass --allow-dynamic")
    written = None
    if out is not None:
        written = str(write_model(fixed, out, inputs=(src,), force=force, external_data=had_external or None))
    inputs, outputs = tensor_infos(fixed)
    return FixShapesResult(str(src), written, changes, {t.name: t.shape for t in inputs},
                           {t.name: t.shape for t in outputs}, remaining)
