"""Limits checked before a model is read: what it will cost must fit, or the command refuses it in one line
(instead of a MemoryError traceback, the OOM killer on a board, or minutes of work on a graph no real model
has).

* Memory: the bytes a command will hold (the protobuf, external data read into it) against what the machine
  can give this process now — psutil's available memory, and the address-space limit (``ulimit -v``).
  ``ONNPU_MEMORY_CHECK=0`` turns the check off.
* Size: a model file over the 2 GiB protobuf limit cannot be parsed (weights that large belong in external
  data).
* Nodes: more than ``ONNPU_MAX_NODES`` (default 300,000, subgraphs included) is refused: real models have
  tens of thousands at most, and a million-node chain takes minutes and gigabytes in ONNX Runtime."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from onnpu.errors import ModelError

__all__ = ["MAX_NODES", "PROTOBUF_LIMIT", "available_memory", "check_file_size", "check_loops", "check_memory",
           "check_nodes"]

PROTOBUF_LIMIT = 2**31 - 1
MAX_NODES = 300_000


def available_memory() -> int | None:
    """Bytes this process can still allocate: psutil's available memory, capped by the address-space limit
    left (``RLIMIT_AS``); None when neither can be read."""
    found: list[int] = []
    try:
        import psutil

        found.append(int(psutil.virtual_memory().available))
        try:
            import resource

            soft, _ = resource.getrlimit(resource.RLIMIT_AS)
            if soft != resource.RLIM_INFINITY:
                found.append(max(0, int(soft) - int(psutil.Process().memory_info().vms)))
        except (ImportError, OSError, ValueError):
            pass
    except Exception:  # psutil unavailable or refused (containers without /proc)
        return None
    return min(found) if found else None


def _enabled() -> bool:
    return os.environ.get("ONNPU_MEMORY_CHECK", "1").strip().lower() not in ("0", "off", "no", "false")


def _gigabytes(count: int) -> str:
    """``12.3 GB``; a size too large for any machine as ``4.8e+15 GB``, not sixteen digits."""
    gb = count / 1e9
    return f"{gb:.1f} GB" if gb < 1e5 else f"{gb:.2g} GB"


def check_memory(path: str | Path, need: int, what: str) -> None:
    """Refuse, before reading, a ``need``-byte job that cannot fit in what is available."""
    if not _enabled() or need < 256 << 20:  # small jobs are never refused
        return
    free = available_memory()
    if free is not None and need > free:
        raise ModelError(f"{path}: {what} needs about {_gigabytes(need)} of memory; {_gigabytes(free)} is "
                         "available to this process",
                         hint="run it on a machine with more memory (or raise `ulimit -v`); ONNPU_MEMORY_CHECK=0 "
                         "tries anyway")


def check_file_size(path: str | Path, size: int) -> None:
    if size > PROTOBUF_LIMIT:
        raise ModelError(f"{path}: the file is {size / 2**30:.1f} GiB, over the 2 GiB limit of one ONNX protobuf",
                         hint="save the weights as external data (onnx.save_model(..., save_as_external_data=True))")
    check_memory(path, 3 * size, "parsing the model")


def max_nodes() -> int:
    raw = os.environ.get("ONNPU_MAX_NODES", "")
    try:
        return int(raw) if raw.strip() else MAX_NODES
    except ValueError:
        raise ModelError(f"ONNPU_MAX_NODES={raw!r} is not a whole number", hint="unset it or give a number") from None


def count_nodes(graph: object) -> int:
    """Nodes in a graph and every subgraph (If/Loop/Scan bodies)."""
    total = 0
    stack = [graph]
    while stack:
        g = stack.pop()
        for node in getattr(g, "node", ()):
            total += 1
            for attr in node.attribute:
                if attr.HasField("g"):
                    stack.append(attr.g)
                stack.extend(attr.graphs)
    return total


def check_nodes(path: str | Path, graph: object) -> None:
    limit = max_nodes()
    count = count_nodes(graph)
    if count > limit:
        raise ModelError(f"{path}: the graph has {count:,} nodes, more than onnpu takes ({limit:,}); graphs that "
                         "large take minutes and gigabytes to load", hint=f"set ONNPU_MAX_NODES={count} if the "
                         "model really is that large")


MAX_LOOP_ITERATIONS = 10**9  # a Loop with a constant trip count beyond this, whose condition never changes, never ends


def _scalar(graph: Any, name: str) -> int | None:
    """The integer constant ``name`` holds in ``graph`` (an initializer or a Constant node), else None."""
    from onnpu.model import proto

    for tensor in graph.initializer:
        if tensor.name == name:
            held = proto.to_array(tensor).ravel()
            return int(held[0]) if held.size == 1 else None
    for node in graph.node:
        if node.op_type == "Constant" and list(node.output) == [name]:
            value = next((a.t for a in node.attribute if a.name == "value" and a.HasField("t")), None)
            values = proto.to_array(value).ravel() if value is not None else None
            return int(values[0]) if values is not None and values.size == 1 else None
    return None


def _condition_fixed(node: Any) -> bool:
    """Whether a Loop's condition never changes: no condition at all, or a body that hands its condition input
    back unchanged (directly or through an Identity)."""
    if len(node.input) < 2 or not node.input[1]:
        return True
    body = next((a.g for a in node.attribute if a.name == "body" and a.HasField("g")), None)
    if body is None or len(body.input) < 2 or not body.output:
        return False
    cond_in, cond_out = body.input[1].name, body.output[0].name
    if cond_out == cond_in:
        return True
    return any(n.op_type == "Identity" and list(n.output) == [cond_out] and list(n.input) == [cond_in]
               for n in body.node)


def check_loops(path: str | Path, graph: Any) -> None:
    """Refuse, before anything runs it, a Loop that never ends in practice: a constant trip count over
    ``MAX_LOOP_ITERATIONS`` with a condition that never changes (a while loop computes its condition in the body
    and is left alone, whatever its trip count)."""
    stack = [graph]
    while stack:
        g = stack.pop()
        for node in g.node:
            for attr in node.attribute:
                if attr.HasField("g"):
                    stack.append(attr.g)
                stack.extend(attr.graphs)
            if node.op_type != "Loop" or not _condition_fixed(node):
                continue
            trips = _scalar(g, node.input[0]) if node.input and node.input[0] else None
            if (trips is None and node.input and node.input[0]) or (trips is not None and
                                                                   trips <= MAX_LOOP_ITERATIONS):
                continue  # a trip count computed at run time, or a finite one
            said = "no trip count" if trips is None else f"a constant trip count of {trips:,}"
            raise ModelError(f"{path}: Loop {node.name or '(unnamed)'} has {said} and a condition that never "
                             "changes: it would not end", hint="export the loop with its real trip count or a "
                             "condition computed in its body")

