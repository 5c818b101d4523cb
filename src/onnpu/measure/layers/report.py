"""``layers --report DIR``: ``report.json``, ``report.md``, ``layers.png`` (SQNR per layer along the graph,
the device's step error on a second axis, each layer's share of the output noise) and one self-contained
``report.html`` with the plot embedded."""

from __future__ import annotations

import html
import math
from pathlib import Path

from onnpu import jsonio
from onnpu.guards import write_files
from onnpu.measure.figures import html_page, img_tag, png, pyplot
from onnpu.measure.layers.advice import CLIPPING, ROUNDING, WEIGHTS
from onnpu.measure.layers.result import LayerRow, LayersResult

__all__ = ["layers_plot", "write_layers_report"]

CAUSE_COLOURS = {ROUNDING: "#3b7dd8", CLIPPING: "#d8843b", WEIGHTS: "#8e5bd8", None: "#b0b0b0"}


def _capped(values: list[float | None], cap: float = 80.0) -> list[float]:
    """Plottable dB values: none or infinite (identical tensors) left out, very high ones capped."""
    return [math.nan if v is None or math.isinf(v) else min(v, cap) for v in values]


def layers_plot(result: LayersResult) -> bytes:
    """SQNR per layer along the graph (and the device's step error), each layer's share of the output noise."""
    plt = pyplot()
    compared = result.reference is not None
    fig, axes = plt.subplots(2 if compared else 1, 1, figsize=(11, 6.4 if compared else 3.6), squeeze=False,
                             sharex=True)
    x = [r.index for r in result.rows]
    ax = axes[0][0]
    if compared:
        ax.plot(x, _capped([r.sqnr_db for r in result.rows]), marker="o", markersize=3, color="#1f4e9c",
                label="SQNR vs float (dB)")
        ax.plot(x, _capped([r.layer_sqnr_db for r in result.rows]), linestyle=":", color="#7aa5e8",
                label="the layer alone (dB)")
        ax.axhline(result.threshold_db, color="#888", linestyle="--", linewidth=0.8,
                   label=f"threshold {result.threshold_db:g} dB")
        first = result.row(result.first_below)
        if first is not None and first.sqnr_db is not None:
            ax.plot([first.index], [first.sqnr_db], marker="v", markersize=10, color="#d83b3b", linestyle="none",
                    label=f"first below: #{first.index}")
        for k, index in enumerate(result.top[:5], 1):
            r = result.rows[index]
            if r.sqnr_db is not None and math.isfinite(r.sqnr_db):
                ax.annotate(str(k), (r.index, r.sqnr_db), textcoords="offset points", xytext=(0, 7), ha="center",
                            fontsize=8, color="#b00")
        ax.set_ylabel("SQNR dB")
    elif result.device:
        ax.plot(x, _capped([r.device.sqnr_db if r.device else None for r in result.rows]), marker="o",
                markersize=3, color="#1f4e9c", label="NPU vs CPU SQNR (dB)")
        ax.set_ylabel("SQNR dB")
    if result.device:
        twin = ax.twinx()
        steps = [r.device.max_steps if r.device else 0 for r in result.rows]
        twin.bar(x, steps, width=0.6, alpha=0.35, color="#d83b3b", label="NPU vs CPU max error (steps)")
        alone = [r.device.alone_max_steps or 0 if r.device else 0 for r in result.rows]
        twin.plot(x, alone, marker="x", linestyle="none", color="#8b0000", label="the op alone on the NPU (steps)")
        twin.axhline(1, color="#d83b3b", linestyle=":", linewidth=0.8)
        twin.set_ylabel("NPU − CPU, quantization steps")
        twin.set_ylim(0, max(2, max(steps) + 1))
        handles, labels = ax.get_legend_handles_labels()
        h2, l2 = twin.get_legend_handles_labels()
        ax.legend(handles + h2, labels + l2, fontsize=7, loc="upper right", ncols=2)
    else:
        ax.legend(fontsize=7, loc="upper right", ncols=2)
    ax.set_title(_title(result), fontsize=9)
    if compared:
        bars = axes[1][0]
        bars.bar(x, [100 * (r.noise_share or 0.0) for r in result.rows],
                 color=[CAUSE_COLOURS.get(r.cause, "#b0b0b0") for r in result.rows])
        from matplotlib.patches import Patch

        handles = [Patch(color=colour, label=cause) for cause, colour in CAUSE_COLOURS.items() if cause]
        bars.set_ylabel("% of the output noise")
        bars.legend(handles=handles, fontsize=7, loc="upper center", title="what the layer's own noise is mostly",
                    title_fontsize=7, ncols=3)
    axes[-1][0].set_xlabel("layer (graph order)")
    return png(fig)


def _title(result: LayersResult) -> str:
    what = f"{Path(result.reference).name} vs {Path(result.quantized).name}" if result.reference else \
        Path(result.quantized).name
    return f"{what} — {result.samples} inputs ({result.input_source})"[:110]


def _db(value: float | None) -> str:
    if value is None:
        return "-"
    return "∞" if math.isinf(value) and value > 0 else f"{value:.2f}"


def _row_cells(r: LayerRow, device: bool) -> list[str]:
    cells = [str(r.index), r.name, r.op, _db(r.sqnr_db), _db(r.lost_db), _db(r.layer_sqnr_db),
             "-" if r.noise_share is None else f"{r.noise_share:.1%}",
             "-" if r.max_error_steps is None else f"{r.max_error_steps:.1f}",
             "-" if r.cosine is None else f"{r.cosine:.4f}", r.cause or ""]
    if device:
        d = r.device
        alone = "-" if d is None or d.alone_max_steps is None else str(d.alone_max_steps)
        cells += ["-", "-", "-"] if d is None else [str(d.max_steps), alone, f"{d.differing_fraction:.1%}"]
    return cells


HEAD = ["#", "tensor", "op", "SQNR dB", "lost dB", "layer alone dB", "share of output noise", "max err steps",
        "cosine", "cause"]
DEVICE_HEAD = ["NPU max steps", "NPU op alone max steps", "NPU ≠"]


def _summary_lines(result: LayersResult) -> list[str]:
    lines = [f"{len(result.rows)} activations compared on {result.samples} inputs ({result.input_source}); "
             f"{result.seconds:.1f} s, peak RSS {result.peak_rss_mb:.0f} MB, {result.chunks} chunk(s)."]
    if result.reference:
        lines.append(f"Final output SQNR: {_db(result.final_sqnr_db)} dB.")
        first = result.row(result.first_below)
        lines.append(f"First layer below {result.threshold_db:g} dB: "
                     + (f"#{first.index} {first.name} ({first.op}), {_db(first.sqnr_db)} dB." if first else "none."))
        for advice in result.advice:
            lines.append(f"What to do: {advice.text}" + (f" `{advice.command}`" if advice.command else ""))
    if result.device:
        d = result.device
        dep = result.row(d.first_departure)
        lines.append(f"{d.target}, HTP arch {d.htp_arch}: first tensor more than one step from the exact CPU "
                     f"arithmetic: " + (f"#{dep.index} {dep.name} (node {dep.node}, {dep.op})." if dep else "none."))
        op = result.row(d.first_op_departure)
        lines.append("First op more than one step off when fed the CPU's own inputs: "
                     + (f"#{op.index} {op.name} (node {op.node}, {op.op})." if op else "none."))
        lines.append("Final outputs with the extra outputs vs without: "
                     + ("identical." if d.outputs_match else f"differ by up to {d.outputs_max_steps:g} steps."))
        lines.append(d.note + ".")
    return lines + result.notes


def _markdown(result: LayersResult) -> str:
    device = result.device is not None
    head = HEAD + (DEVICE_HEAD if device else [])
    lines = ["# onnpu layers report", "", *[f"- {line}" for line in _summary_lines(result)], "",
             "![layers](layers.png)", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in _row_cells(r, device)) + " |" for r in result.rows]
    return "\n".join(lines) + "\n"


def _html_page(result: LayersResult, plot: bytes) -> str:
    device = result.device is not None
    top = set(result.top)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEAD + (DEVICE_HEAD if device else []))
    body = "".join(
        f"<tr class='{'first' if r.index == result.first_below else 'top' if r.index in top else ''}'>"
        + "".join(f"<td>{html.escape(c)}</td>" for c in _row_cells(r, device)) + "</tr>" for r in result.rows)
    summary = "".join(f"<li>{html.escape(line)}</li>" for line in _summary_lines(result))
    style = "td,th{padding:3px 7px;font-size:12px}tr.first td{background:#fbd5d5}tr.top td{background:#fff3c4}"
    return html_page("onnpu layers report",
                     f"<p id='models'>{html.escape(_title(result))}</p><ul id='summary'>{summary}</ul>"
                     f"{img_tag(plot, 'SQNR per layer')}<h2>Every layer, in graph order</h2>"
                     f"<table><tr>{head}</tr>{body}</table>", style)


def write_layers_report(result: LayersResult, folder: str | Path) -> list[Path]:
    """``report.json`` (strict JSON, ``onnpu.layers/1``), ``report.md``, ``layers.png`` and ``report.html`` in
    ``folder``."""
    plot = layers_plot(result)
    return write_files(folder, {"report.json": jsonio.dumps(result.to_dict()).encode(),
                                "report.md": _markdown(result).encode(), "layers.png": plot,
                                "report.html": _html_page(result, plot).encode()})
