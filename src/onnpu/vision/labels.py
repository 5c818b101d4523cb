"""Class names: ImageNet-1k built in (with or without the background class), or a labels file (one name per
line, or JSON)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from onnpu.errors import InputDataError
from onnpu.guards import printable, read_regular

IMAGENET_LABELS = "imagenet1k_labels.txt"


def imagenet_labels() -> list[str]:
    return builtin_labels(IMAGENET_LABELS)


def builtin_labels(name: str) -> list[str]:
    """A labels file shipped in ``onnpu.data`` (``imagenet1k_labels.txt``, ``coco80_labels.txt``)."""
    text = resources.files("onnpu.data").joinpath(name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line]


LABELS_LIMIT = 64_000_000
JSON_HINT = 'give a JSON list of names, or an object {"0": "name", "1": …}; or a text file, one name per line'


def _json_labels(p: Path | str, text: str) -> list[str]:
    """Names from JSON: a list of names, or an object from class index (an integer) to name."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise InputDataError(f"{p}: the labels JSON is nested too deeply", hint=JSON_HINT) from None
    except ValueError as exc:
        raise InputDataError(f"{p}: not valid JSON ({exc})", hint=JSON_HINT) from None
    if isinstance(data, dict):
        try:
            keys = {int(str(k)): k for k in data}
        except ValueError:
            bad = next(k for k in data if not str(k).strip().lstrip("-").isdigit())
            raise InputDataError(f"{p}: the key {str(bad)[:40]!r} is not a class index", hint=JSON_HINT) from None
        if sorted(keys) != list(range(len(keys))):
            raise InputDataError(f"{p}: the class indices are not 0 … {len(keys) - 1}", hint=JSON_HINT)
        values = [data[keys[i]] for i in range(len(keys))]
    elif isinstance(data, list):
        values = data
    else:
        raise InputDataError(f"{p}: the labels JSON is a {type(data).__name__}, not a list or object",
                             hint=JSON_HINT)
    if any(isinstance(v, (dict, list)) for v in values):
        raise InputDataError(f"{p}: a label is not a name (nested JSON)", hint=JSON_HINT)
    return [str(v) for v in values]


def parse_labels(raw: bytes, source: Path | str, is_json: bool) -> list[str]:
    """Names from a labels file's bytes: JSON (``is_json``) or UTF-8 text, one name per line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputDataError(f"{source}: cannot read the labels file ({exc})", hint="save it as UTF-8 text") from exc
    names = _json_labels(source, text) if is_json else [line.strip() for line in text.splitlines() if line.strip()]
    return [printable(n) for n in names]


def load_labels(path: str | Path | None, num_classes: int | None,
                embedded: Sequence[str] | None = None) -> list[str]:
    """Labels from a text file (one per line) or JSON (list, or {index: name}); when no file is given, the
    model's own (``embedded``: the names its exporter wrote into it) if there is one per class, else ImageNet-1k
    when the model has 1000 (or 1001, with background) classes; class numbers otherwise. ``num_classes``
    None: a file with any number of labels (a model that ends in NMS does not say how many classes it has)."""
    if path is None:
        if embedded and (num_classes is None or len(embedded) == num_classes):
            return list(embedded)
        if num_classes is None:
            raise InputDataError("no labels file given", hint="give one with --labels")
        if num_classes in (1000, 1001):
            names = imagenet_labels()
            return ["background", *names] if num_classes == 1001 else names
        return [f"class {i}" for i in range(num_classes)]
    p = Path(path)
    labels = parse_labels(read_regular(p, "labels file", limit=LABELS_LIMIT), p, p.suffix.lower() == ".json")
    if num_classes is not None and len(labels) != num_classes:
        raise InputDataError(f"{p}: has {len(labels)} labels but the model has {num_classes} classes",
                             hint="use the labels file that belongs to this model")
    return labels
