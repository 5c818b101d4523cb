"""Rendering of results shared by several verbs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from onnpu.cli.console import escape, out

if TYPE_CHECKING:
    from onnpu.runtime.placement import PlacementSummary
    from onnpu.runtime.targets import Target


def print_placement(target: Target, providers: list[str], placement: PlacementSummary | None) -> None:
    if placement is None:
        out().print(f"providers registered: {', '.join(providers)} (this onnxruntime cannot record placement)")
        return
    style = "green" if placement.fully_on_target else "yellow"
    out().print(f"[{style}]placement: {placement.headline()}[/]; providers that ran nodes: {', '.join(providers)}",
                soft_wrap=True)
    if placement.fallback_nodes and target.is_qnn:
        names = escape(", ".join(f"{n.name} ({n.op_type})" for n in placement.fallback_nodes[:8]))
        more = len(placement.fallback_nodes) - 8
        out().print(f"[yellow]on the CPU: {names}{f' and {more} more' if more > 0 else ''}[/]", soft_wrap=True)
