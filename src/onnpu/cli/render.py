"""Rendering of results shared by several verbs, and a plain-text table for the paths where start-up counts
(a one-image ``classify``: rich's import and console cost more than the table is worth)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from onnpu.cli.console import escape, out

if TYPE_CHECKING:
    from onnpu.runtime.placement import PlacementSummary
    from onnpu.runtime.targets import Target


def placement_lines(target: Target, providers: list[str], placement: PlacementSummary | None) -> list[str]:
    """What ran where, in words (plain text)."""
    if placement is None:
        return [f"providers registered: {', '.join(providers)} (this onnxruntime cannot record placement)"]
    lines = [f"placement: {placement.headline()}; providers that ran nodes: {', '.join(providers)}"]
    if placement.fallback_nodes and target.is_qnn and placement.cpu_fallback is None:
        names = ", ".join(f"{n.name} ({n.op_type})" for n in placement.fallback_nodes[:8])
        more = len(placement.fallback_nodes) - 8
        lines.append(f"on the CPU: {names}{f' and {more} more' if more > 0 else ''}")
    return lines


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> list[str]:
    """A table as aligned text lines: a header, a rule, the rows (``right``: which columns align right)."""
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).rjust(w) if r else str(c).ljust(w)
                         for c, w, r in zip(cells, widths, right, strict=True)).rstrip()

    return [line(headers), "  ".join("─" * w for w in widths), *(line(r) for r in rows)]


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


def device_word(target: str) -> str:
    """What a described target runs on, for headings: "NPU" for a QNN target, else its name ("CPU", "GPU")."""
    name = target.split(" ", 1)[0] if target else "npu"
    return "NPU" if name in ("npu", "qnn") else name.upper()
