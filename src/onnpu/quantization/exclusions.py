"""Nodes ONNX Runtime's QDQ quantizer must be told to leave alone.

Its calibrator collects ranges only for float and float16 tensors, but it then sets every Softmax output's range to
[0, 1] whether that tensor was calibrated or not: a Softmax computed in double (swift-f0 0.3.0's pitch model) makes
quantization fail with ``Only an existing tensor can be modified, 'v452' is not``. Such a Softmax cannot be
quantized anyway: it is excluded, and stays float as the model wrote it."""

from __future__ import annotations

from pathlib import Path

from onnpu.model import proto

QUANTIZABLE = (1, 10)  # float, float16


def nodes_to_exclude(model_path: str | Path) -> list[str]:
    """Names of the Softmax nodes of the model file whose output is neither float nor float16 (after shape
    inference, as the quantizer sees the model)."""
    import onnx

    model = proto.load_model(model_path)
    if not any(n.op_type == "Softmax" for n in model.graph.node):
        return []
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type
             for v in [*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input]}
    return [n.name for n in inferred.graph.node
            if n.op_type == "Softmax" and n.name and types.get(n.output[0], 1) not in QUANTIZABLE]
