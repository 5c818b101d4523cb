"""``layers``: where accuracy is lost, layer by layer — a float model against its quantized copy on the exact QDQ
arithmetic, and the quantized model on a device (the NPU) against that exact CPU arithmetic.

Public: :func:`compare_layers` (the verb), :class:`LayersResult` / :class:`LayerRow` (what it returns) and
:func:`write_layers_report` (``--report DIR``). The modules: ``compare`` (the verb), ``graph`` (which activations
the two models share, in graph order), ``parts`` (chunks, part and island models), ``run`` (the sides, one
input), ``stats`` (streamed sums), ``budget`` (own noise, gains, shares), ``advice``, ``result``, ``report``."""

from __future__ import annotations

from onnpu.measure.layers.compare import compare_layers
from onnpu.measure.layers.report import write_layers_report
from onnpu.measure.layers.result import LayerRow, LayersResult

__all__ = ["LayerRow", "LayersResult", "compare_layers", "write_layers_report"]
