"""What the reports share: matplotlib (imported only when a plot is drawn, headless), one figure → PNG bytes
helper, a PNG embedded in HTML, and the page every HTML report is."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

from onnpu.errors import OnnpuError

__all__ = ["html_page", "img_tag", "png", "pyplot"]

STYLE = ("body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
         "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}th{background:#f0f0f0}img{max-width:100%}")


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the headless Agg backend, or an error that says how to install it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise OnnpuError("plots need matplotlib", hint="pip install 'onnpu[report]'") from exc
    return plt


def png(fig: Any, dpi: int = 110) -> bytes:
    """The figure as PNG bytes (tight layout); the figure is closed."""
    plt = pyplot()
    try:
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)
        return buffer.getvalue()
    finally:
        plt.close(fig)


def img_tag(data: bytes, alt: str) -> str:
    """A PNG embedded in HTML (the report stays one self-contained file)."""
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def html_page(title: str, body: str, extra_style: str = "") -> str:
    """One self-contained HTML page."""
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}{extra_style}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>")
