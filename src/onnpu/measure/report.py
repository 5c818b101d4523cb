"""Bench reports: ``report.json``, ``report.md``, PNG plots and one self-contained ``report.html``."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

from onnpu.errors import OnnpuError
from onnpu.measure.bench import BenchResult
from onnpu.measure.profile import ProfileResult
from onnpu.storage import atomic_write, output_dir


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise OnnpuError("plots need matplotlib", hint="pip install 'onnpu[report]'") from exc
    return plt


def _latency_plot(result: BenchResult) -> bytes:
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(result.runs), figsize=(4.2 * len(result.runs), 3.4), squeeze=False)
    for ax, run in zip(axes[0], result.runs, strict=True):
        ax.hist(run.latencies_ms, bins=min(30, max(5, len(run.latencies_ms) // 2)), color="#3b7dd8")
        ax.axvline(run.stats.p50, color="black", linestyle="--", label=f"p50 {run.stats.p50:.2f} ms")
        ax.axvline(run.stats.p99, color="#d83b3b", linestyle=":", label=f"p99 {run.stats.p99:.2f} ms")
        ax.set_title(run.label, fontsize=9)
        ax.set_xlabel("latency (ms)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def _ops_plot(profile: ProfileResult, top: int = 15) -> bytes:
    plt = _pyplot()
    rows = list(reversed(profile.top(top)))
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(rows) + 1.2))
    ax.barh([f"{r.name[-40:]} ({r.op_type})" for r in rows], [r.time_us / 1000 for r in rows], color="#3bb273")
    ax.set_xlabel("ms per inference")
    ax.set_title(f"top {len(rows)} ops — {profile.target}"[:90], fontsize=9)
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def _markdown(result: BenchResult, profile: ProfileResult | None = None) -> str:
    lines = ["# onnpu bench report", "",
             f"{result.iterations} interleaved rounds after {result.warmup} warm-up runs, inputs: "
             f"{result.input_source}; {result.threads}; {result.machine['machine']}, {result.machine['cpus']} CPUs, "
             f"onnxruntime {result.machine['onnxruntime']}.", "",
             "| run | p50 ms | mean ms | p90 | p99 | min | max | inf/s | session cold s | cached s | first run ms |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result.runs:
        s = r.stats
        cached = f"{r.session_cached_s:.3f}" if r.session_cached_s is not None else "-"
        lines.append(f"| {r.label} | {s.p50:.2f} | {s.mean:.2f} | {s.p90:.2f} | {s.p99:.2f} | {s.min:.2f} | "
                     f"{s.max:.2f} | {s.throughput:.1f} | {r.session_cold_s:.3f} | {cached} | {r.first_run_ms:.1f} |")
    lines += ["", "Placement: " + "; ".join(f"{r.label}: {r.placement}" for r in result.runs), ""]
    if result.drift:
        lines += ["## Output drift", "", "| run | reference | output | SQNR dB | max abs | cosine | top-1 |",
                  "|---|---|---|---|---|---|---|"]
        for d in result.drift:
            for o in d.outputs:
                top1 = "-" if o.top1_agreement is None else f"{o.top1_agreement:.0%}"
                lines.append(f"| {d.label} | {d.reference} | {o.name} | {o.sqnr_db:.2f} | {o.max_abs_error:.4g} | "
                             f"{o.cosine:.5f} | {top1} |")
        lines.append("")
    if profile is not None:
        lines += ["## Per-op profile", "", "| node | op | provider | ms | share |", "|---|---|---|---|---|"]
        lines += [f"| {r.name} | {r.op_type} | {r.provider} | {r.time_us / 1000:.3f} | {r.share:.1%} |"
                  for r in profile.top(15)]
        lines.append("")
    return "\n".join(lines)


def _img(data: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _html_page(result: BenchResult, plots: dict[str, bytes], profile: ProfileResult | None = None) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(r.label)}</td><td>{r.stats.p50:.2f}</td><td>{r.stats.mean:.2f}</td>"
        f"<td>{r.stats.p99:.2f}</td><td>{r.stats.throughput:.1f}</td><td>{r.session_cold_s:.3f}</td>"
        f"<td>{'-' if r.session_cached_s is None else f'{r.session_cached_s:.3f}'}</td>"
        f"<td>{html.escape(r.placement)}</td></tr>" for r in result.runs)
    drift = "".join(
        f"<tr><td>{html.escape(d.label)}</td><td>{html.escape(d.reference)}</td><td>{html.escape(o.name)}</td>"
        f"<td>{o.sqnr_db:.2f}</td><td>{o.cosine:.5f}</td>"
        f"<td>{'-' if o.top1_agreement is None else f'{o.top1_agreement:.0%}'}</td></tr>"
        for d in result.drift for o in d.outputs)
    images = "".join(_img(data, name) for name, data in plots.items())
    ops = ""
    if profile is not None:
        ops = "<h2>Per-op profile</h2><table><tr><th>node</th><th>op</th><th>provider</th><th>ms</th></tr>" + "".join(
            f"<tr><td>{html.escape(r.name)}</td><td>{r.op_type}</td><td>{r.provider}</td>"
            f"<td>{r.time_us / 1000:.3f}</td></tr>" for r in profile.top(15)) + "</table>"
    style = ("body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}th{background:#f0f0f0}img{max-width:100%}")
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>onnpu bench report</title>"
            f"<style>{style}</style></head><body><h1>onnpu bench report</h1>"
            f"<p id='summary'>{result.iterations} interleaved rounds, {html.escape(result.input_source)}, "
            f"{html.escape(result.threads)}</p>"
            "<table><tr><th>run</th><th>p50 ms</th><th>mean ms</th><th>p99 ms</th><th>inf/s</th>"
            f"<th>session cold s</th><th>cached s</th><th>placement</th></tr>{rows}</table>"
            + (f"<h2>Output drift</h2><table><tr><th>run</th><th>reference</th><th>output</th><th>SQNR dB</th>"
               f"<th>cosine</th><th>top-1</th></tr>{drift}</table>" if drift else "")
            + f"<h2>Latency</h2>{images}{ops}</body></html>")


def write_report(result: BenchResult, folder: str | Path, profile: ProfileResult | None = None) -> list[Path]:
    out = output_dir(folder, "report", "--report")
    plots = {"latency.png": _latency_plot(result)}
    if profile is not None:
        plots["ops.png"] = _ops_plot(profile)
    data = result.to_dict() | ({"profile": profile.to_dict()} if profile else {})
    written = []
    for name, content in [("report.json", json.dumps(data, indent=2, default=str).encode()),
                          ("report.md", _markdown(result, profile).encode()),
                          *plots.items(),
                          ("report.html", _html_page(result, plots, profile).encode())]:
        atomic_write(out / name, content)
        written.append(out / name)
    return written
