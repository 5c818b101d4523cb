"""The recipe for transformer encoders (BERT-class: token ids and an attention mask in, LayerNormalization, Softmax
over a MatMul of two activations) on the HTP.

What the QNN EP needs, measured on the emulator for QCS6490 (v68) and QCS8550 (v73) with onnxruntime-qnn 2.7:

- **LayerNormalization**: its scale (gamma) quantized to **uint8** (asymmetric) with the bias left to the quantizer
  (int32, scale = input scale × gamma scale). ONNX Runtime's QNN recipe gives gamma int8 (the weight type), and both
  HTPs then refuse the node ("Failed to add node" on the gamma/bias DequantizeLinear); a uint8/int8/uint16 bias with
  int8 gamma passes on v73 only.
- **GatherND** with constant indices (how torch's exporter broadcasts the mask) is refused ("Failed to create
  GatherND node"): the same elements are a Gather of the data reshaped, which the HTP takes.
- **the attention mask**: exporters add ``-3.4e38`` (float's lowest) or ``-inf`` to the scores of padded tokens. No
  quantization step survives that range (W8A16: 1.2 dB, cosine 0.56 against float). A finite ``-MASK_VALUE``
  masks as well (e^-100 of a softmax weight is zero in float32) and keeps the scores' range small.
- **IsNaN → Where** after Softmax (torch's guard for rows with every token masked) passes values through unchanged
  once the mask is finite (a softmax of finite values has no NaN): it is removed.
- **Gelu/Erf** (fused into Gelu by ``qnn_preprocess_model``), **Softmax** and **MatMul of two activations** run in
  QDQ form as ONNX Runtime's QNN recipe writes them.
- **precision**: 8-bit activations cannot hold the attention scores and the residual stream at once; W8A16 (int8
  weights, uint16 activations), what Qualcomm ships for such models, is the default ``auto`` picks.

The same pass makes rewrites any model may need, measured on the corpus: a ``-inf`` fill before a Softmax becomes
``-MASK_VALUE`` (swift-f0: an infinite quantization range otherwise); a stretch computed in double is computed in
float (the HTP has no float64); a Clip with a computed bound becomes Max/Min (openWakeWord's mel front end: "QNN
doesn't support dynamic min/max"). Every rewrite is checked on the float model with the calibration inputs before
it is kept."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from onnpu.model.graphs import consumers, producers
from onnpu.quantization.batchnorm import expand_dynamic_batchnorms
from onnpu.quantization.calibration import evenly
from onnpu.quantization.gelu import erf_scale_as_division
from onnpu.quantization.htp_ops import reduce_sum_square_as_sum
from onnpu.quantization.lstm import lstm_unrolled

if TYPE_CHECKING:
    import onnx

    from onnpu.quantization.config import QuantizeConfig

MASK_VALUE = 100.0  # what a masked score gets subtracted, instead of float's lowest or -inf
HUGE = 1e4  # constants at or below -HUGE in a mask branch are stand-ins for -infinity
RECIPE = ("transformer encoder: W8A16 (uint16 activations, int8 weights), LayerNormalization scales uint8, "
          f"finite attention mask (-{MASK_VALUE:g})")


def _initializers(model: onnx.ModelProto) -> dict[str, onnx.TensorProto]:
    return {t.name: t for t in model.graph.initializer}


def is_transformer_encoder(model: onnx.ModelProto) -> bool:
    """LayerNormalization, a Softmax, and a MatMul of two activations (attention scores or their use)."""
    ops = {n.op_type for n in model.graph.node}
    if not {"LayerNormalization", "Softmax"} <= ops:
        return False
    inits = _initializers(model)
    return any(n.op_type == "MatMul" and all(i not in inits for i in n.input) for n in model.graph.node)


def resolve_config(model: onnx.ModelProto, config: QuantizeConfig) -> tuple[QuantizeConfig, str | None]:
    """``activations="auto"``: uint16 for a transformer encoder (with the recipe's name), uint8 for the rest."""
    if config.activations != "auto":
        return config, None
    if is_transformer_encoder(model):
        return replace(config, activations="u16"), RECIPE
    return replace(config, activations="u8"), None


def layernorm_overrides(model: onnx.ModelProto) -> dict[str, list[dict[str, Any]]]:
    """Tensor overrides (``get_qnn_qdq_config(init_overrides=...)``) the HTP needs: every LayerNormalization scale
    (an initializer) quantized to uint8."""
    from onnxruntime.quantization import QuantType

    inits = _initializers(model)
    return {n.input[1]: [{"quant_type": QuantType.QUInt8}] for n in model.graph.node
            if n.op_type == "LayerNormalization" and len(n.input) > 1 and n.input[1] in inits}


def _constant_gathernd(model: onnx.ModelProto, shapes: Mapping[str, Sequence[int]]) -> list[str]:
    """GatherND (batch_dims 0) with constant indices → Reshape of the data + Gather of the flat indices."""
    from onnx import helper, numpy_helper

    inits = _initializers(model)
    done = []
    for index, node in enumerate(list(model.graph.node)):
        if node.op_type != "GatherND" or node.input[1] not in inits or node.input[0] not in shapes:
            continue
        if any(a.name == "batch_dims" and a.i != 0 for a in node.attribute):
            continue
        idx = numpy_helper.to_array(inits[node.input[1]]).astype(np.int64)
        data_shape = list(shapes[node.input[0]])
        k = idx.shape[-1]
        lead, rest = data_shape[:k], data_shape[k:]
        idx = np.where(idx < 0, idx + np.array(lead), idx)
        flat = np.ravel_multi_index(tuple(np.moveaxis(idx, -1, 0)), lead).astype(np.int64)
        base = node.name or f"gathernd_{index}"
        shape_name, flat_name, reshaped = f"{base}__shape", f"{base}__flat_indices", f"{base}__flat_data"
        model.graph.initializer.extend([numpy_helper.from_array(np.array([-1, *rest], np.int64), shape_name),
                                        numpy_helper.from_array(flat, flat_name)])
        position = list(model.graph.node).index(node)
        model.graph.node.remove(node)
        model.graph.node.insert(position, helper.make_node("Gather", [reshaped, flat_name], list(node.output), axis=0,
                                                           name=f"{base}__gather"))
        model.graph.node.insert(position, helper.make_node("Reshape", [node.input[0], shape_name], [reshaped],
                                                           name=f"{base}__reshape"))
        done.append(node.name or "GatherND")
    return done


def _mask_branch_constants(model: onnx.ModelProto) -> list[str]:
    """Initializers of value ≤ -HUGE (or -inf) among what feeds a Softmax (up to the MatMul/Conv/Gemm that compute
    its scores): the -infinity of a mask or a masked fill."""
    from onnx import numpy_helper

    inits = _initializers(model)
    made_by = producers(model.graph)
    found: list[str] = []
    for node in model.graph.node:
        if node.op_type != "Softmax":
            continue
        stack, seen = [node.input[0]], set()
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in inits:
                values = numpy_helper.to_array(inits[name])
                if values.dtype.kind == "f" and values.size and np.all(values <= -HUGE) and name not in found:
                    found.append(name)
                continue
            source = made_by.get(name)
            if source is not None and source.op_type not in ("MatMul", "Conv", "Gemm"):  # stop at the scores
                stack.extend(source.input)
    return found


def _finite_mask(model: onnx.ModelProto) -> list[str]:
    from onnx import numpy_helper

    inits = _initializers(model)
    names = _mask_branch_constants(model)
    for name in names:
        values = numpy_helper.to_array(inits[name])
        inits[name].CopyFrom(numpy_helper.from_array(np.full_like(values, -MASK_VALUE), name))
    return names


def _double_to_float(model: onnx.ModelProto) -> list[str]:
    """A stretch computed in double (Cast to double, double constants) computed in float instead: the HTP has no
    float64 ("Unsupported FP64 data type in graph IO"), and the quantizer leaves double tensors float. A double
    output becomes float32 (said in the returned list as ``output NAME``); a double graph input leaves the model as
    it is. In place; returns the Casts (and outputs) changed."""
    from onnx import TensorProto, numpy_helper

    double = TensorProto.DOUBLE
    if any(v.type.tensor_type.elem_type == double for v in model.graph.input):
        return []
    changed = [f"output {v.name}" for v in model.graph.output if v.type.tensor_type.elem_type == double]
    for value in model.graph.output:
        if value.type.tensor_type.elem_type == double:
            value.type.tensor_type.elem_type = TensorProto.FLOAT
    for node in model.graph.node:
        for attr in node.attribute:
            if node.op_type == "Cast" and attr.name == "to" and attr.i == double:
                attr.i = TensorProto.FLOAT
                changed.append(node.name or "Cast")
    if not changed:
        return []
    for tensor in model.graph.initializer:
        if tensor.data_type == double:
            tensor.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tensor).astype(np.float32), tensor.name))
    for value in model.graph.value_info:
        if value.type.tensor_type.elem_type == double:
            value.type.tensor_type.elem_type = TensorProto.FLOAT
    return changed


def _dynamic_clips(model: onnx.ModelProto) -> list[str]:
    """Clip(x, lo, hi) with a bound computed by the model (openWakeWord's mel front end clamps at its maximum minus
    80 dB) → Max(x, lo) then Min(…, hi): the QNN EP takes no Clip with a computed bound ("QNN doesn't support dynamic
    min/max"), and these are the same values. In place; returns the Clips rewritten."""
    from onnx import helper

    inits = _initializers(model)
    changed = []
    for node in list(model.graph.node):
        if node.op_type != "Clip" or all(not i or i in inits for i in node.input[1:]):
            continue
        position = list(model.graph.node).index(node)
        current, made = node.input[0], []
        for k, (op, bound) in enumerate((("Max", node.input[1:2]), ("Min", node.input[2:3]))):
            if bound and bound[0]:
                out = f"{node.output[0]}__{op.lower()}" if k == 0 and node.input[2:3] and node.input[2] else \
                    node.output[0]
                made.append(helper.make_node(op, [current, bound[0]], [out], name=f"{node.name or 'clip'}__{op}"))
                current = out
        if made[-1].output[0] != node.output[0]:
            made[-1].output[0] = node.output[0]
        model.graph.node.remove(node)
        for offset, new in enumerate(made):
            model.graph.node.insert(position + offset, new)
        changed.append(node.name or "Clip")
    return changed


def _nan_guards(model: onnx.ModelProto) -> list[str]:
    """Where(IsNaN(s), 0, s) after a Softmax s → s."""
    made_by = producers(model.graph)
    read_by = consumers(model.graph)
    outputs = {o.name for o in model.graph.output}
    removed = []
    for node in list(model.graph.node):
        if node.op_type != "Where" or len(node.input) != 3:
            continue
        cond = made_by.get(node.input[0])
        source = node.input[2]
        if cond is None or cond.op_type != "IsNaN" or cond.input[0] != source:
            continue
        softmax = made_by.get(source)
        if softmax is None or softmax.op_type != "Softmax" or node.output[0] in outputs:
            continue
        for reader in read_by.get(node.output[0], []):
            for i, name in enumerate(reader.input):
                if name == node.output[0]:
                    reader.input[i] = source
        model.graph.node.remove(node)
        if all(r is node or r is cond for r in read_by.get(cond.output[0], [])):
            model.graph.node.remove(cond)
        removed.append(node.name or "Where")
    return removed


def adapt(model: onnx.ModelProto, shapes: Mapping[str, Sequence[int]]) -> tuple[onnx.ModelProto, list[str]]:
    """A copy of a transformer encoder the HTP can take (see the module's notes), and what changed, in words.
    ``shapes``: every tensor's static shape (from shape inference), for the GatherND rewrite."""
    import onnx as onnx_module

    work = onnx_module.ModelProto()
    work.CopyFrom(model)
    said = []
    gathers = _constant_gathernd(work, shapes)
    if gathers:
        said.append(f"{len(gathers)} GatherND with constant indices as Reshape + Gather")
    masks = _finite_mask(work)
    if masks:
        said.append(f"attention mask -infinity stand-in{'s' if len(masks) > 1 else ''} ({', '.join(masks[:3])}) set "
                    f"to -{MASK_VALUE:g}")
    guards = _nan_guards(work)
    if guards:
        said.append(f"{len(guards)} IsNaN guard{'s' if len(guards) > 1 else ''} after Softmax removed (a softmax of "
                    "finite scores has no NaN)")
    return work, said


def static_shapes(model: onnx.ModelProto) -> dict[str, list[int]]:
    """Every tensor whose shape shape inference makes fully static."""
    import onnx as onnx_module

    inferred = onnx_module.shape_inference.infer_shapes(model, data_prop=True)
    found: dict[str, list[int]] = {}
    for value in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            found[value.name] = [d.dim_value for d in dims]
    return found


def check_unchanged(before: Sequence[Mapping[str, np.ndarray]], after: Sequence[Mapping[str, np.ndarray]]
                    ) -> float:
    """The smallest cosine between the float outputs before and after the rewrites, over every input and output."""
    worst = 1.0
    for one, two in zip(before, after, strict=True):
        for name, a in one.items():
            x, y = a.astype(np.float64).ravel(), two[name].astype(np.float64).ravel()
            denom = float(np.linalg.norm(x) * np.linalg.norm(y))
            worst = min(worst, float(x @ y) / denom if denom else float(np.array_equal(x, y)))
    return worst


# Ops the QNN EP refuses as exporters write them, rewritten into forms it takes (each exact in float): the rewrite,
# and what to say of the n nodes it changed.
OP_FORMS: tuple[tuple[Callable[[onnx.ModelProto], list[str]], Callable[[int], str]], ...] = (
    (erf_scale_as_division, lambda n: f"{n} Gelu{'s' if n > 1 else ''} written with x·(1/√2) as x/√2, the form ONNX "
                                      "Runtime fuses into one Gelu (the QNN EP takes no Erf)"),
    (reduce_sum_square_as_sum, lambda n: f"{n} ReduceSumSquare as ReduceSum of x·x (the QNN EP has none)"),
    (lstm_unrolled, lambda n: f"{n} LSTM{'s' if n > 1 else ''} unrolled into Gemm, Sigmoid, Tanh, Mul and Add (QNN "
                              "fails to finalize an LSTM on HTP v68)"),
    (expand_dynamic_batchnorms, lambda n: f"{n} BatchNormalization{'s' if n > 1 else ''} with computed statistics "
                                          "as elementwise ops (QNN builds none)"),
)
UNCHANGED_COSINE = 0.99999  # the rewritten float model against the original, on the calibration inputs
CHECKED_FEEDS = 4


def for_htp(model: onnx.ModelProto, calibration: Sequence[Mapping[str, np.ndarray]]
            ) -> tuple[onnx.ModelProto, list[str]]:
    """``model`` as the HTP can take it: a transformer encoder adapted (see the module's notes), and in any model a
    -infinity fill before a Softmax made finite — rewrites kept only when the float outputs stay the same on the
    calibration inputs — and what was done, in words."""
    if is_transformer_encoder(model):
        adapted, said = adapt(model, static_shapes(model))
    else:  # any model: a masked fill with -inf before a Softmax gets an infinite quantization range
        adapted = type(model)()
        adapted.CopyFrom(model)
        masks = _finite_mask(adapted)
        said = [f"-infinity fill{'s' if len(masks) > 1 else ''} before a Softmax ({', '.join(masks[:3])}) set to "
                f"-{MASK_VALUE:g}"] if masks else []
    for rewrite, what in OP_FORMS:
        done = rewrite(adapted)
        if done:
            said.append(what(len(done)))
    clips = _dynamic_clips(adapted)
    if clips:
        said.append(f"{len(clips)} Clip{'s' if len(clips) > 1 else ''} with a computed bound as Max/Min")
    doubles = _double_to_float(adapted)
    if doubles:
        outputs = [d.removeprefix("output ") for d in doubles if d.startswith("output ")]
        casts = len(doubles) - len(outputs)
        said.append(f"{casts} Cast{'s' if casts != 1 else ''} to double made float (the HTP has no float64)"
                    + (f"; output{'s' if len(outputs) > 1 else ''} {', '.join(outputs)} float32 now (was float64)"
                       if outputs else ""))
    if not said:
        return model, []
    from onnpu.quantization.evaluate import run_on_cpu

    feeds = evenly(calibration, CHECKED_FEEDS)
    before, after = run_on_cpu(model, feeds, exact=True), run_on_cpu(adapted, feeds, exact=True)
    cosine = check_unchanged([{k: v[i] for k, v in before.items()} for i in range(len(feeds))],
                             [{k: v[i] for k, v in after.items()} for i in range(len(feeds))])
    if cosine < UNCHANGED_COSINE:
        return model, [f"rewrites for the HTP not applied: they changed the float outputs (cosine {cosine:.6f})"]
    return adapted, [f"for the HTP: {'; '.join(said)} (float outputs unchanged: cosine {cosine:.6f})"]


def quantize_where_constants(model: onnx.ModelProto) -> list[str]:
    """A Where whose value inputs are float constants (the attention mask's 0 / -MASK_VALUE) stays float in ONNX
    Runtime's QDQ output, and HTP v68 computes no float: each such constant becomes a DequantizeLinear of itself
    quantized with the parameters of the QuantizeLinear that reads the Where's output — exact, since quantizing the
    Where's output quantizes exactly these values. In place; returns the Where nodes changed."""
    from onnx import helper, numpy_helper

    from onnpu.model.qparams import qdq_params

    inits = _initializers(model)
    read_by = consumers(model.graph)
    changed = []
    for node in list(model.graph.node):
        if node.op_type != "Where" or len(node.input) != 3:
            continue
        readers = read_by.get(node.output[0], [])
        if len(readers) != 1 or readers[0].op_type != "QuantizeLinear":
            continue
        q = readers[0]
        params = qdq_params(q, inits)
        if params is None or params.axis is not None:
            continue
        for position in (1, 2):
            name = node.input[position]
            if name not in inits or inits[name].data_type != 1:  # float constants only
                continue
            values = numpy_helper.to_array(inits[name]).astype(np.float64)
            info = np.iinfo(np.dtype(params.dtype))
            ints = np.clip(np.round(values / params.scale[0]) + params.zero_point[0], info.min, info.max)
            base = f"{name}__{node.name or 'where'}"
            model.graph.initializer.append(numpy_helper.from_array(ints.astype(params.dtype), f"{base}_quantized"))
            dq = helper.make_node("DequantizeLinear", [f"{base}_quantized", q.input[1], *q.input[2:3]],
                                  [f"{base}_dequantized"], name=f"{base}_DequantizeLinear")
            model.graph.node.insert(list(model.graph.node).index(node), dq)
            node.input[position] = f"{base}_dequantized"
            if node.name not in changed:
                changed.append(node.name)
    return changed

