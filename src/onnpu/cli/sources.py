"""Model, label and image arguments that may be ``http(s)://`` URLs: downloaded into the cache (the transfer
shows on the command line's progress reporter), with a model's external data beside it."""

from __future__ import annotations

import argparse


def is_url(ref: str) -> bool:
    return ref.startswith(("http://", "https://"))


def local_model(ref: str | None, args: argparse.Namespace | None = None) -> str | None:
    """A model path, downloading ``http(s)://`` URLs (with their external data) into the cache."""
    if ref is None or not is_url(ref):
        return ref
    from onnpu.model.downloads import fetch_model
    from onnpu.model.http_transfer import DownloadPolicy

    sha = getattr(args, "sha256", None) if args else None
    data = tuple(getattr(args, "model_data", []) or []) if args else ()
    policy = DownloadPolicy.from_env(getattr(args, "max_download_mb", None) if args else None)
    return str(fetch_model(ref, sha256=sha, data_urls=data, policy=policy))


def local_file(ref: str | None) -> str | None:
    """A file path, downloading ``http(s)://`` URLs (labels, images) into the cache."""
    if ref is None or not is_url(ref):
        return ref
    from onnpu.model.downloads import fetch

    return str(fetch(ref))



def local_labels(ref: str | None) -> str | None:
    """A labels path, downloading ``http(s)://`` URLs into the cache only when they hold labels (a JSON error
    body or a binary file is refused, never cached: a rerun asks the server again)."""
    if ref is None or not is_url(ref):
        return ref
    from pathlib import Path
    from urllib.parse import urlsplit

    from onnpu.errors import DownloadError, InputDataError
    from onnpu.model.downloads import fetch, not_a_web_page
    from onnpu.vision.labels import LABELS_LIMIT, parse_labels

    def labels_only(url: str, part: Path) -> None:
        not_a_web_page(url, part)
        if part.stat().st_size > LABELS_LIMIT:
            raise DownloadError(f"{url}: {part.stat().st_size / 1e6:.1f} MB is no labels file",
                                hint="check the URL (nothing was cached)")
        try:
            parse_labels(part.read_bytes(), url, urlsplit(url).path.lower().endswith(".json"))
        except InputDataError as exc:
            raise DownloadError(f"{exc.message} — not a labels file", hint="check the URL: it must name the labels "
                                "file itself (nothing was cached)") from None

    return str(fetch(ref, check=labels_only))
