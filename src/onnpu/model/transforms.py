"""Pure graph transforms (``ModelProto -> ModelProto``) used before and after quantization: Constant nodes
to initializers, opset upgrade, and quantized I/O (the graph-input QuantizeLinear and graph-output
DequantizeLinear removed so the model takes and returns integers, as Qualcomm AI Hub's w8a8 models do, with
their parameters kept in the model's metadata)."""

from __future__ import annotations

import numpy as np
import onnx

from onnpu import jsonio
from onnpu.errors import QuantizationError
from onnpu.model.files import set_metadata
from onnpu.model.graphs import default_opset, producers
from onnpu.model.qparams import IO_QUANT_METADATA_KEY, io_quant_params


def constants_to_initializers(model: onnx.ModelProto) -> onnx.ModelProto:
    """Constant nodes become initializers (in place). ONNX Runtime's quantizer treats a Constant node's
    output as an activation and quantizes it: a Resize ``scales`` of 2.0 then dequantizes to 1.99 and the
    output shape changes (95 instead of 96 rows in PP-OCRv4's detector)."""
    from onnx import numpy_helper

    kept = []
    for node in model.graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and len(node.attribute) == 1:
            value = onnx.helper.get_attribute_value(node.attribute[0])
            name = node.attribute[0].name
            if name == "value":
                tensor = value
            elif name in ("value_float", "value_int"):
                tensor = numpy_helper.from_array(np.array(value, np.float32 if name == "value_float" else np.int64))
            elif name in ("value_floats", "value_ints"):
                tensor = numpy_helper.from_array(np.array(value, np.float32 if name == "value_floats" else np.int64))
            else:
                kept.append(node)
                continue
            tensor.name = node.output[0]
            model.graph.initializer.append(tensor)
        else:
            kept.append(node)
    del model.graph.node[:]
    model.graph.node.extend(kept)
    return model


MIN_OPSET = 13  # per-channel QuantizeLinear/DequantizeLinear (axis) needs opset 13


def ensure_opset(model: onnx.ModelProto) -> onnx.ModelProto:
    """Models older than opset 13 are converted (per-channel Q/DQ needs it)."""
    current = default_opset(model, MIN_OPSET)
    if current >= MIN_OPSET:
        return model
    try:
        return onnx.version_converter.convert_version(model, MIN_OPSET)
    except Exception as exc:  # the converter raises plain RuntimeErrors for unsupported adapters
        raise QuantizationError(f"the model uses opset {current}; quantization needs ≥ {MIN_OPSET} and the "
                                f"conversion failed: {str(exc).splitlines()[0][:200]}",
                                hint="re-export the model with opset 13 or newer") from exc



def _set_elem_type(value: onnx.ValueInfoProto, elem_type: int) -> None:
    value.type.tensor_type.elem_type = elem_type


def quantized_io(model: onnx.ModelProto) -> onnx.ModelProto:
    """Pure transform: float inputs feeding only QuantizeLinear become integer inputs; outputs produced by
    DequantizeLinear become the integer tensors before it. Names of inputs and outputs are kept."""
    result = onnx.ModelProto()
    result.CopyFrom(model)
    graph = result.graph
    qin, qout = io_quant_params(result)
    consts = {t.name: t for t in graph.initializer}
    table: dict[str, dict[str, object]] = {}
    for inp in graph.input:
        if inp.name in consts or inp.name not in qin:
            continue
        users = [n for n in graph.node if inp.name in n.input]
        if not users or any(n.op_type != "QuantizeLinear" or n.input[0] != inp.name for n in users):
            raise QuantizationError(f"input {inp.name!r} feeds nodes other than QuantizeLinear",
                                    hint="quantize without --io uint8, or quantize the model first")
        q = users[0]
        zp = consts.get(q.input[2]) if len(q.input) > 2 else None
        elem = zp.data_type if zp is not None else onnx.TensorProto.UINT8
        for user in users:
            for other in graph.node:
                for i, name in enumerate(other.input):
                    if name == user.output[0]:
                        other.input[i] = inp.name
            graph.node.remove(user)
        _set_elem_type(inp, elem)
        table[inp.name] = qin[inp.name].to_dict()
    made_by = producers(graph)
    for out in graph.output:
        node = made_by.get(out.name)
        if out.name not in qout or node is None or node.op_type != "DequantizeLinear":
            continue
        integer = node.input[0]
        zp = consts.get(node.input[2]) if len(node.input) > 2 else None
        elem = zp.data_type if zp is not None else onnx.TensorProto.UINT8
        graph.node.remove(node)
        for other in graph.node:
            for i, name in enumerate(other.output):
                if name == integer:
                    other.output[i] = out.name
            for i, name in enumerate(other.input):
                if name == integer:
                    other.input[i] = out.name
        _set_elem_type(out, elem)
        table[out.name] = qout[out.name].to_dict()
    if not table:
        raise QuantizationError("the model has no quantized inputs or outputs to convert",
                                hint="--io uint8 needs QDQ I/O: Q after the inputs, DQ before the outputs")
    set_metadata(result, {IO_QUANT_METADATA_KEY: jsonio.dumps(table, indent=None)})
    onnx.checker.check_model(result)
    return result
