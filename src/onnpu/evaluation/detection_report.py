"""``onnpu eval … --annotations COCO.json --report DIR``: ``report.json`` (the ``--json`` document),
``report.md``, ``map.png`` (mAP@[.5:.95] and mAP@.5 per row, and each row's mAP difference from the reference
with its paired-bootstrap 95 % interval) and one self-contained ``report.html`` listing the images whose
confident detections changed. Written all or nothing (``onnpu.guards.write_files``)."""

from __future__ import annotations

import html
from pathlib import Path

from onnpu import jsonio
from onnpu.evaluation.detection import DetectionEvalResult
from onnpu.evaluation.report import CHANGED_SHOWN
from onnpu.guards import write_files
from onnpu.measure.figures import html_page, img_tag, png, pyplot

__all__ = ["map_plot", "write_detection_report"]


def _versus(result: DetectionEvalResult, k: int) -> str:
    d = result.rows[k].versus_reference
    if d is None:
        return "reference"
    return f"{d['delta']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]"


def map_plot(result: DetectionEvalResult) -> bytes:
    """Left: mAP@[.5:.95] and mAP@.5 per row. Right: each row's mAP difference from the reference, 95 % CI."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 0.6 * len(result.rows) + 2.2))
    labels = [r.label for r in result.rows]
    ys = list(range(len(labels)))
    left.barh([y + 0.2 for y in ys], [r.scores.map50 for r in result.rows], 0.4, color="#9cc3f0", label="mAP@.5")
    left.barh([y - 0.2 for y in ys], [r.scores.map for r in result.rows], 0.4, color="#3b7dd8",
              label="mAP@[.5:.95]")
    left.set_yticks(ys, labels, fontsize=8)
    left.set_xlim(0, 1)
    left.set_xlabel("mAP")
    left.invert_yaxis()
    left.legend(fontsize=7)
    for y, row in zip(ys, result.rows, strict=True):
        d = row.versus_reference
        if d is not None:
            right.errorbar([d["delta"]], [y], xerr=[[d["delta"] - d["low"]], [d["high"] - d["delta"]]], fmt="o",
                           color="#d83b3b", capsize=4)
    right.axvline(0, color="black", linewidth=0.8)
    right.set_yticks(ys, labels, fontsize=8)
    right.set_ylim(len(labels) - 0.5, -0.5)
    right.set_xlabel(f"mAP minus {result.reference.label} (95 % CI)")
    return png(fig)


def _markdown(result: DetectionEvalResult) -> str:
    lines = ["# onnpu eval report (detection)", "", f"{result.images} images of {result.data}, "
             f"{result.annotated_boxes} annotated boxes ({result.annotations}).", "",
             "| row | mAP@[.5:.95] | mAP@.5 | mAP vs reference [95 % CI] |", "|---|---|---|---|"]
    lines += [f"| {r.label} | {r.scores.map:.4f} | {r.scores.map50:.4f} | {_versus(result, k)} |"
              for k, r in enumerate(result.rows)]
    lines += ["", f"Images whose confident detections changed: {len(result.changed)}.", ""]
    lines += [f"Note: {n}" for n in result.notes]
    return "\n".join(lines) + "\n"


def _html(result: DetectionEvalResult, plot: bytes) -> str:
    e = html.escape
    rows = "".join(f"<tr><td>{e(r.label)}</td><td>{r.scores.map:.4f}</td><td>{r.scores.map50:.4f}</td>"
                   f"<td>{e(_versus(result, k))}</td><td>{e(r.placement)}</td></tr>"
                   for k, r in enumerate(result.rows))
    changed = "".join(f"<tr><td>{e(str(c['image']))}</td><td>{e(str(c['row']))}</td><td>{c['missed']}</td>"
                      f"<td>{c['extra']}</td></tr>" for c in result.changed[:CHANGED_SHOWN])
    body = (f"<p id='summary'>{result.images} images of {e(result.data)}, {result.annotated_boxes} annotated boxes "
            f"({e(result.annotations)}).</p>"
            "<table><tr><th>row</th><th>mAP@[.5:.95]</th><th>mAP@.5</th><th>mAP vs reference (95 % CI)</th>"
            f"<th>placement</th></tr>{rows}</table>{img_tag(plot, 'map.png')}"
            f"<h2>Changed detections ({len(result.changed)} images)</h2>"
            + (f"<p>the first {CHANGED_SHOWN}; report.json has them all</p>" if len(result.changed) > CHANGED_SHOWN
               else "")
            + "<table><tr><th>image</th><th>row</th><th>missed</th><th>extra</th></tr>"
            f"{changed}</table>" + "".join(f"<p class='note'>{e(n)}</p>" for n in result.notes))
    return html_page("onnpu eval report (detection)", body)


def write_detection_report(result: DetectionEvalResult, folder: str | Path) -> list[Path]:
    plot = map_plot(result)
    return write_files(folder, {"report.json": jsonio.dumps(result.to_dict()).encode(),
                                "report.md": _markdown(result).encode(), "map.png": plot,
                                "report.html": _html(result, plot).encode()})
