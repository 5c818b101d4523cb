"""Class names: ImageNet-1k built in (with or without the background class), or a labels file (one name per
line, or JSON)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from onnpu.errors import InputDataError

IMAGENET_LABELS = "imagenet1k_labels.txt"


def imagenet_labels() -> list[str]:
    text = resources.files("onnpu.data").joinpath(IMAGENET_LABELS).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line]


def load_labels(path: str | Path | None, num_classes: int) -> list[str]:
    """Labels from a text file (one per line) or JSON (list, or {index: name}); ImageNet-1k when no file is
    given and the model has 1000 (or 1001, with background) classes; class numbers otherwise."""
    if path is None:
        if num_classes in (1000, 1001):
            names = imagenet_labels()
            return ["background", *names] if num_classes == 1001 else names
        return [f"class {i}" for i in range(num_classes)]
    p = Path(path)
    if not p.is_file():
        raise InputDataError(f"{p}: labels file not found", hint="give a text file with one class name per line")
    try:
        text = p.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError) as exc:
        raise InputDataError(f"{p}: cannot read the labels file ({exc})", hint="save it as UTF-8 text") from exc
    if p.suffix.lower() == ".json":
        data = json.loads(text)
        labels = [str(data[k]) for k in sorted(data, key=int)] if isinstance(data, dict) else [str(x) for x in data]
    else:
        labels = [line.strip() for line in text.splitlines() if line.strip()]
    if len(labels) != num_classes:
        raise InputDataError(f"{p}: has {len(labels)} labels but the model has {num_classes} classes",
                             hint="use the labels file that belongs to this model")
    return labels
