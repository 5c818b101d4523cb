"""Simplify section of BENCHMARKS.md: what `onnpu simplify` (OnnxSlim + onnpu's checks) does to the real models of
the corpus (tests/corpus.json) and what it costs — nodes before/after, Ifs folded, the time of the simplification
and of the verification against the original, and the largest output difference."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import corpus
from onnpu.tasks.simplify import simplify
from onnpu.zoo import ZooModel


def simplify_section(model: ZooModel, quick: bool) -> list[str]:
    del model  # the corpus, not the built-in model
    repeats = 1 if quick else 3
    lines = ["## Simplify on the corpus (`onnpu simplify`, OnnxSlim)", "",
             "Each real model of the corpus (`tests/corpus.json`, fetched by `python tests/corpus.py fetch`) with its "
             "fixed shapes and input values: nodes in all graphs before → after (and If/Loop/Scan), the time of "
             "`simplify` without the check and the time the check adds (both models run on 2 seeded inputs on the "
             f"CPU, graph optimisations off), median of {repeats}, and the largest output difference.", "",
             "| model | nodes | If | simplify s | check adds s | max abs diff |", "|---|---|---|---|---|---|"]
    for record in corpus.records():
        path = corpus.fetch(record)
        shapes, values = record["shapes"] or None, record["values"] or None
        plain, checked = [], []
        result = None
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(repeats):
                start = time.perf_counter()
                simplify(path, None, shapes=shapes, values=values, verify=False)
                plain.append(time.perf_counter() - start)
                start = time.perf_counter()
                result = simplify(path, Path(tmp) / "s.onnx", shapes=shapes, values=values, force=True)
                checked.append(time.perf_counter() - start)
        assert result is not None
        stats = result.stats
        cf = f"{stats.control_flow_before} → {stats.control_flow_after}" if stats.control_flow_before else "-"
        lines.append(f"| {record['name']} | {stats.nodes_before} → {stats.nodes_after} | {cf} | "
                     f"{statistics.median(plain):.2f} | {statistics.median(checked) - statistics.median(plain):.2f} | "
                     f"{result.max_abs_error:.2g} |")
    return [*lines, ""]
