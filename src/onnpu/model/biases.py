"""One bias initializer per node before ONNX Runtime's QDQ quantizer sees the model.

A bias is quantized with the scale of its own node's input and weight, so the quantizer gives every node after the
first that shares a bias a copy (``QDQQuantizer._dup_initializer``). It names the copy ``<bias><N>`` with N one past
the largest number already ending an *initializer* of that prefix, and checks no other name: tf2onnx names a
bias ``…/conv1d_25`` and a Conv output ``…/conv1d_252``, so the third copy of that bias takes the Conv output's
name, and the quantized graph feeds a [36] bias into a Transpose (``Invalid attribute perm {0, 2, 3, 1}, input
shape = {36}``; basic-pitch 0.4.0's nmp.onnx). Giving each node its own bias first, under names unique in the whole
model, leaves the quantizer nothing to copy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from onnpu.model.graphs import walk

if TYPE_CHECKING:
    import onnx

# op types whose input 2 ONNX Runtime's QDQ quantizer quantizes as a bias (operators/conv.py, gemm.py, norm.py)
BIAS_OPS = frozenset({"Conv", "ConvTranspose", "Gemm", "InstanceNormalization", "LayerNormalization"})


def _names(model: onnx.ModelProto) -> set[str]:
    """Every tensor name in the model: initializers, graph inputs/outputs, value infos, node outputs (bodies too)."""
    names = {t.name for t in model.graph.initializer}
    for graph in [model.graph, *{id(g): g for item in walk(model.graph) for g in item.graphs}.values()]:
        names.update(t.name for t in graph.initializer)
        names.update(v.name for v in [*graph.input, *graph.output, *graph.value_info])
    for item in walk(model.graph):
        names.update(item.node.output)
    return names


def unshare_biases(model: onnx.ModelProto) -> list[str]:
    """Give every top-level node in ``BIAS_OPS`` that shares its bias initializer with another node its own copy,
    named ``<bias>__<node>`` (made unique against every tensor name of the model). In place; returns the new names."""
    inits = {t.name: t for t in model.graph.initializer}
    readers: dict[str, int] = {}
    for item in walk(model.graph):
        for name in item.node.input:
            readers[name] = readers.get(name, 0) + 1
    taken = _names(model)
    made: list[str] = []
    seen: set[str] = set()
    for node in model.graph.node:
        if node.op_type not in BIAS_OPS or len(node.input) < 3 or node.input[2] not in inits:
            continue
        bias = node.input[2]
        if readers[bias] < 2:
            continue
        if bias not in seen:  # the first reader keeps the original
            seen.add(bias)
            continue
        base = f"{bias}__{node.name or node.op_type}"
        name, k = base, 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        copy = model.graph.initializer.add()
        copy.CopyFrom(inits[bias])
        copy.name = name
        node.input[2] = name
        taken.add(name)
        made.append(name)
    return made


def full_gemm_biases(model: onnx.ModelProto) -> list[str]:
    """A Gemm bias given as a scalar or a [1, N] row (Gemm broadcasts C) becomes a [N] vector, its own copy: ONNX
    Runtime's quantizer indexes the bias per output channel and fails on a scalar (``too many indices for array``;
    swift-f0 0.3.0's Gemms have a 0-d bias). Exact. In place; returns the Gemm nodes changed."""
    import numpy as np
    from onnx import numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    taken = _names(model)
    changed = []
    for node in model.graph.node:
        if node.op_type != "Gemm" or len(node.input) < 3 or node.input[2] not in inits or node.input[1] not in inits:
            continue
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        columns = int(inits[node.input[1]].dims[0 if trans_b else 1])
        bias = numpy_helper.to_array(inits[node.input[2]])
        if bias.shape == (columns,) or bias.size not in (1, columns) or bias.ndim > 2:
            continue
        base = name = f"{node.input[2]}__{node.name or 'gemm'}"
        k = 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        model.graph.initializer.append(numpy_helper.from_array(np.broadcast_to(bias.reshape(-1), (columns,)).copy(),
                                                               name))
        node.input[2] = name
        taken.add(name)
        changed.append(node.name)
    return changed
