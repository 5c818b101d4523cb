"""Gelu as tf2onnx writes it — ``0.5·x · (1 + erf(x · 0.7071…))`` — put in the form ONNX Runtime's Gelu fusion
(``qnn_preprocess_model``) recognises: the multiplication by 1/√2 as a division by √2. Fused, the HTP runs one
Gelu; left as Erf, the QNN EP takes no Erf ("Operators of type `Erf` are not supported by QNN EP")."""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import numpy_helper

from onnpu.model.graphs import constant_tensors, producers


def erf_scale_as_division(model: onnx.ModelProto) -> list[str]:
    """In place: every ``Mul(x, 1/√2)`` that only feeds an Erf becomes ``Div(x, √2)``; returns the Erf nodes
    concerned."""
    consts = constant_tensors(model)
    made_by = producers(model.graph)
    readers: dict[str, int] = {}
    for node in model.graph.node:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    done: list[str] = []
    for erf in (n for n in model.graph.node if n.op_type == "Erf"):
        mul = made_by.get(erf.input[0])
        if mul is None or mul.op_type != "Mul" or readers.get(mul.output[0]) != 1:
            continue
        side = next((k for k, name in enumerate(mul.input) if name in consts and
                     numpy_helper.to_array(consts[name]).size == 1 and
                     abs(float(numpy_helper.to_array(consts[name]).ravel()[0]) - math.sqrt(0.5)) < 1e-3), None)
        if side is None:
            continue
        root = f"{mul.name or erf.name}_onnpu_sqrt2"
        dtype = numpy_helper.to_array(consts[mul.input[side]]).dtype
        model.graph.initializer.append(numpy_helper.from_array(np.array(math.sqrt(2.0), dtype), root))
        x = mul.input[1 - side]
        mul.op_type = "Div"
        del mul.input[:]
        mul.input.extend([x, root])
        done.append(erf.name or erf.output[0])
    return done
