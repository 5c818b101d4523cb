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

