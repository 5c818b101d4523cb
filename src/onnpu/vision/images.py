"""Decoding image files: any common format and colour mode to 8-bit RGB with EXIF orientation applied, JPEGs
at reduced size when preprocessing needs fewer pixels, and one clear error for every way a file can be bad."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from onnpu.errors import InputDataError
from onnpu.guards import open_regular

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}

def load_image(path: str | Path, draft: Callable[[tuple[int, int]], tuple[int, int]] | None = None) -> Image.Image:
    """Decode any common image file to RGB, EXIF orientation applied; one clear error otherwise.

    With ``draft`` (the file's (width, height) → the size preprocessing needs), a JPEG is decoded at the
    smallest of its 1/2, 1/4, 1/8 scales that still covers that size (Pillow ``draft``)."""
    p = Path(path)
    if not p.exists():
        raise InputDataError(f"{p}: no such image file", hint="check the path")
    if p.is_dir():
        raise InputDataError(f"{p}: is a folder, not an image", hint="pass image files")
    handle = open_regular(p, "image")  # FIFOs, devices and sockets refused (never blocks)
    if os.fstat(handle.fileno()).st_size == 0:
        handle.close()
        raise InputDataError(f"{p}: the image file is empty (0 bytes)", hint="copy the image again")
    try:
        with handle, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(handle) as opened:
                # the size checked here, not only by Pillow's warning: warning filters are not thread-safe, and a
                # folder run decodes in threads (the same bomb was refused alone and decoded in a folder)
                if Image.MAX_IMAGE_PIXELS and opened.width * opened.height > Image.MAX_IMAGE_PIXELS:
                    raise Image.DecompressionBombError(
                        f"{opened.width}x{opened.height} = {opened.width * opened.height} pixels, over "
                        f"{Image.MAX_IMAGE_PIXELS}")
                if draft is not None and opened.format == "JPEG":
                    opened.draft("RGB", draft(opened.size))
                opened.load()
                return to_rgb(opened)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputDataError(f"{p}: image too large to decode safely ({exc})",
                             hint="downscale the image first (limit: Pillow's MAX_IMAGE_PIXELS)") from exc
    except UnidentifiedImageError as exc:
        raise InputDataError(f"{p}: not an image file Pillow can read",
                             hint="pass a JPEG, PNG, WebP or BMP image") from exc
    except PermissionError as exc:
        raise InputDataError(f"{p}: cannot read the file ({exc.strerror})", hint="check its permissions") from exc
    except IsADirectoryError as exc:
        raise InputDataError(f"{p}: is a folder, not an image", hint="pass image files") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputDataError(f"{p}: the image is truncated or corrupt ({exc})",
                             hint="copy or export the image again") from exc


def to_rgb(img: Image.Image) -> Image.Image:
    """Orientation from EXIF, then any mode (L, LA, P, RGBA, CMYK, I;16, I, F) to 8-bit RGB."""
    img = ImageOps.exif_transpose(img) or img
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if img.mode.startswith("I;16") or a.max() > 255 else 255.0
        img = Image.fromarray(np.clip(a / hi * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB") if img.mode != "RGB" else img
