"""``onnpu eval --report DIR``: ``report.json`` (the ``--json`` document), ``report.md``, ``accuracy.png``
(top-1 / top-5 per row with intervals, and each row's difference from the reference) and one self-contained
``report.html`` listing the inputs whose answer changed. Written all or nothing (``onnpu.guards.write_files``)."""

from __future__ import annotations

import html
from pathlib import Path

from onnpu import jsonio
from onnpu.evaluation.result import EvalResult
from onnpu.guards import write_files
from onnpu.measure.figures import html_page, img_tag, png, pyplot

__all__ = ["accuracy_plot", "write_report"]

CHANGED_SHOWN = 200  # the HTML lists this many changed inputs (the JSON has them all)


def _pct(v: float) -> str:
    return f"{100 * v:.2f} %"


def _delta(result: EvalResult, k: int) -> str:
    d = result.rows[k].versus_reference
    if d is None:
        return "reference"
    return f"{100 * d.delta:+.2f} pts [{100 * d.low:+.2f}, {100 * d.high:+.2f}], p={d.p_value:.3g}"


def accuracy_plot(result: EvalResult) -> bytes:
    """Left: top-1 and top-5 per row (top-1 with its 95 % interval). Right: top-1 difference from the reference
    with its paired-bootstrap 95 % interval."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 0.6 * len(result.rows) + 2.2))
    labels = [r.label for r in result.rows]
    ys = list(range(len(labels)))
    top1 = [100 * r.top1 for r in result.rows]
    errs = [[100 * (r.top1 - r.top1_interval[0]) for r in result.rows],
            [100 * (r.top1_interval[1] - r.top1) for r in result.rows]]
    left.barh([y + 0.2 for y in ys], [100 * r.top5 for r in result.rows], 0.4, color="#9cc3f0", label="top-5")
    left.barh([y - 0.2 for y in ys], top1, 0.4, xerr=errs, color="#3b7dd8", label="top-1 (95 % CI)")
    left.set_yticks(ys, labels, fontsize=8)
    left.set_xlim(0, 100)
    left.set_xlabel("accuracy (%)")
    left.invert_yaxis()
    left.legend(fontsize=7)
    diffs = [(y, r.versus_reference) for y, r in zip(ys, result.rows, strict=True) if r.versus_reference]
    for y, d in diffs:
        right.errorbar([100 * d.delta], [y], xerr=[[100 * (d.delta - d.low)], [100 * (d.high - d.delta)]],
                       fmt="o", color="#d83b3b", capsize=4)
    right.axvline(0, color="black", linewidth=0.8)
    right.set_yticks(ys, labels, fontsize=8)
    right.set_ylim(len(labels) - 0.5, -0.5)
    right.set_xlabel(f"top-1 minus {result.reference.label} (points, 95 % CI)")
    return png(fig)


def _markdown(result: EvalResult) -> str:
    lines = ["# onnpu eval report", "", f"{result.evaluated} images of {result.data} ({result.data_kind}), "
             f"{result.classes} classes; skipped: {sum(result.skipped.values())}.", "",
             "| row | top-1 | top-5 | top-1 vs reference |", "|---|---|---|---|"]
    lines += [f"| {r.label} | {_pct(r.top1)} | {_pct(r.top5)} | {_delta(result, k)} |"
              for k, r in enumerate(result.rows)]
    lines += ["", f"Changed top-1 answers: {len(result.changed)}.", ""]
    lines += [f"Note: {n}" for n in result.notes]
    return "\n".join(lines) + "\n"


def _html(result: EvalResult, plot: bytes) -> str:
    e = html.escape
    rows = "".join(f"<tr><td>{e(r.label)}</td><td>{_pct(r.top1)}</td><td>{_pct(r.top5)}</td>"
                   f"<td>{e(_delta(result, k))}</td><td>{e(str(r.session.get('placement', '')))}</td></tr>"
                   for k, r in enumerate(result.rows))
    changed = "".join(f"<tr><td>{e(c.image)}</td><td>{e(c.label)}</td><td>{e(c.row)}</td>"
                      f"<td>{e(c.reference_answer)}{' ✓' if c.reference_correct else ''}</td>"
                      f"<td>{e(c.answer)}{' ✓' if c.correct else ''}</td></tr>" for c in result.changed[:CHANGED_SHOWN])
    skipped = ", ".join(f"{n} {e(reason)}" for reason, n in result.skipped.items()) or "none"
    body = (f"<p id='summary'>{result.evaluated} images of {e(result.data)} ({e(result.data_kind)}), "
            f"{result.classes} classes; skipped: {skipped}.</p>"
            "<table><tr><th>row</th><th>top-1</th><th>top-5</th><th>top-1 vs reference (95 % CI, McNemar p)</th>"
            f"<th>placement</th></tr>{rows}</table>{img_tag(plot, 'accuracy.png')}"
            f"<h2>Changed answers ({len(result.changed)})</h2>"
            + (f"<p>the first {CHANGED_SHOWN}; report.json has them all</p>" if len(result.changed) > CHANGED_SHOWN
               else "")
            + "<table><tr><th>image</th><th>label</th><th>row</th><th>reference answer</th><th>answer</th></tr>"
            f"{changed}</table>" + "".join(f"<p class='note'>{e(n)}</p>" for n in result.notes))
    return html_page("onnpu eval report", body)


def write_report(result: EvalResult, folder: str | Path) -> list[Path]:
    plot = accuracy_plot(result)
    return write_files(folder, {"report.json": jsonio.dumps(result.to_dict()).encode(),
                                "report.md": _markdown(result).encode(), "accuracy.png": plot,
                                "report.html": _html(result, plot).encode()})
