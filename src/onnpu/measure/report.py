"""Bench reports: ``report.json`` (strict JSON, ``onnpu.bench/1``), ``report.md``, ``latency.png`` and one
self-contained ``report.html``."""

from __future__ import annotations

import html
from pathlib import Path

from onnpu import jsonio
from onnpu.guards import write_files
from onnpu.measure.bench import BenchResult
from onnpu.measure.figures import html_page, img_tag, png, pyplot

__all__ = ["latency_plot", "write_report"]


def _dash(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def latency_plot(result: BenchResult) -> bytes:
    """One latency histogram per run (p50 and p99 marked), as PNG."""
    plt = pyplot()
    runs = [(r, r.stats) for r in result.runs if r.stats is not None]
    fig, axes = plt.subplots(1, max(1, len(runs)), figsize=(4.2 * max(1, len(runs)), 3.4), squeeze=False)
    for ax, (run, stats) in zip(axes[0], runs, strict=False):
        ax.hist(run.latencies_ms, bins=min(30, max(5, len(run.latencies_ms) // 2)), color="#3b7dd8")
        ax.axvline(stats.p50, color="black", linestyle="--", label=f"p50 {stats.p50:.2f} ms")
        ax.axvline(stats.p99, color="#d83b3b", linestyle=":", label=f"p99 {stats.p99:.2f} ms")
        ax.set_title(run.label, fontsize=9)
        ax.set_xlabel("latency (ms)")
        ax.legend(fontsize=7)
    return png(fig)


def _markdown(result: BenchResult) -> str:
    lines = ["# onnpu bench report", "",
             f"{result.iterations} interleaved rounds after {result.warmup} warm-up runs, inputs: "
             f"{result.input_source}; {result.threads}; {result.machine['machine']}, {result.machine['cpus']} CPUs, "
             f"onnxruntime {result.machine['onnxruntime']}.", "",
             "| run | p50 ms | mean ms | p90 | p99 | min | max | inf/s | session cold s | cached s | first run ms |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result.runs:
        s = r.stats
        if s is None:
            lines.append(f"| {r.label} | did not run: {r.error} |" + " |" * 9)
            continue
        lines.append(f"| {r.label} | {s.p50:.2f} | {s.mean:.2f} | {s.p90:.2f} | {s.p99:.2f} | {s.min:.2f} | "
                     f"{s.max:.2f} | {s.throughput:.1f} | {_dash(r.session_cold_s, '.3f')} | "
                     f"{_dash(r.session_cached_s, '.3f')} | {_dash(r.first_run_ms, '.1f')} |")
    lines += ["", "Placement: " + "; ".join(f"{r.label}: {r.placement}" for r in result.runs), ""]
    if result.drift:
        lines += ["## Output drift", "", "| run | reference | output | SQNR dB | max abs | cosine | top-1 |",
                  "|---|---|---|---|---|---|---|"]
        for d in result.drift:
            for o in d.outputs:
                lines.append(f"| {d.label} | {d.reference} | {o.name} | {o.sqnr_db:.2f} | {o.max_abs_error:.4g} | "
                             f"{o.cosine_text()} | {_dash(o.top1_agreement, '.0%')} |")
        lines.append("")
    lines += [f"Note: {n}" for n in result.notes]
    return "\n".join(lines)


def _html(result: BenchResult, plot: bytes) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(r.label)}</td><td colspan='6'>did not run: {e(r.error or '')}</td><td>{e(r.placement)}</td>"
        "</tr>" if r.stats is None else
        f"<tr><td>{e(r.label)}</td><td>{r.stats.p50:.2f}</td><td>{r.stats.mean:.2f}</td>"
        f"<td>{r.stats.p99:.2f}</td><td>{r.stats.throughput:.1f}</td><td>{_dash(r.session_cold_s, '.3f')}</td>"
        f"<td>{_dash(r.session_cached_s, '.3f')}</td><td>{e(r.placement)}</td></tr>" for r in result.runs)
    drift = "".join(
        f"<tr><td>{e(d.label)}</td><td>{e(d.reference)}</td><td>{e(o.name)}</td><td>{o.sqnr_db:.2f}</td>"
        f"<td>{o.cosine_text()}</td><td>{_dash(o.top1_agreement, '.0%')}</td></tr>"
        for d in result.drift for o in d.outputs)
    body = (f"<p id='summary'>{result.iterations} interleaved rounds, {e(result.input_source)}, {e(result.threads)}"
            "</p><table><tr><th>run</th><th>p50 ms</th><th>mean ms</th><th>p99 ms</th><th>inf/s</th>"
            f"<th>session cold s</th><th>cached s</th><th>placement</th></tr>{rows}</table>"
            + (f"<h2>Output drift</h2><table><tr><th>run</th><th>reference</th><th>output</th><th>SQNR dB</th>"
               f"<th>cosine</th><th>top-1</th></tr>{drift}</table>" if drift else "")
            + "".join(f"<p class='note'>{e(n)}</p>" for n in result.notes)
            + f"<h2>Latency</h2>{img_tag(plot, 'latency.png')}")
    return html_page("onnpu bench report", body)


def write_report(result: BenchResult, folder: str | Path) -> list[Path]:
    """``report.json``, ``report.md``, ``latency.png`` and ``report.html`` in ``folder`` (created; all files or none:
    ``onnpu.guards.write_files``)."""
    plot = latency_plot(result)
    return write_files(folder, {"report.json": jsonio.dumps(result.to_dict()).encode(),
                                "report.md": _markdown(result).encode(), "latency.png": plot,
                                "report.html": _html(result, plot).encode()})
