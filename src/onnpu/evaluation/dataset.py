"""Labelled image sets: an ImageFolder tree (one folder per class) or a CSV / JSONL list of (path, label),
and the matching of their class names to a model's labels. What cannot be used is counted and said once
(a class folder whose name matches no label, a row without a label, a file that is not an image)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onnpu import progress
from onnpu.errors import InputDataError
from onnpu.guards import read_regular
from onnpu.vision.images import IMAGE_SUFFIXES

LIST_LIMIT = 512_000_000
LIST_HINT = "give rows of path,label (a header line path,label is optional) or JSON lines {\"path\": …, \"label\": …}"
WNID = re.compile(r"^n\d{8}$")


@dataclass
class LabelledSet:
    """Images with the class name (or number) they are labelled with, in a fixed order."""

    source: str
    kind: str  # "folder", "csv" or "jsonl"
    items: list[tuple[str, str]]  # (image path, label as written)
    skipped: dict[str, int] = field(default_factory=dict)  # reason → count
    notes: list[str] = field(default_factory=list)


def _skip(found: LabelledSet, reason: str, line: str | None = None, count: int = 1) -> None:
    found.skipped[reason] = found.skipped.get(reason, 0) + count
    if line:
        progress.warn(line)
        found.notes.append(line)


def read_folder(root: Path) -> LabelledSet:
    """An ImageFolder tree: ``root/CLASS/…/image``; files directly under ``root`` belong to no class."""
    found = LabelledSet(str(root), "folder", [])
    loose = [p for p in root.iterdir() if p.is_file()]
    if loose:
        _skip(found, "not in a class folder", f"{root}: {len(loose)} file(s) not in a class folder, skipped",
              len(loose))
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        others = [p for p in files if p.suffix.lower() not in IMAGE_SUFFIXES]
        if others:
            _skip(found, "not an image file", None, len(others))
        found.items += [(str(p), folder.name) for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    if found.skipped.get("not an image file"):
        n = found.skipped["not an image file"]
        _skip(found, "not an image file", f"{root}: {n} non-image file(s) skipped", 0)
    return found


def _row(found: LabelledSet, base: Path, where: str, path: Any, label: Any) -> None:
    if not isinstance(path, str) or not path.strip() or label is None or str(label).strip() == "":
        _skip(found, "row without a path and a label", f"{where}: no path and label, skipped")
        return
    p = Path(path.strip())
    found.items.append((str(p if p.is_absolute() else base / p), str(label).strip()))


def read_list(path: Path) -> LabelledSet:
    """A CSV (``path,label``; header optional) or JSONL (``{"path": …, "label": …}``) file; relative paths are
    relative to the file's folder."""
    raw = read_regular(path, "labelled list", limit=LIST_LIMIT)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputDataError(f"{path}: not UTF-8 text ({exc})", hint=LIST_HINT) from None
    base = path.parent
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        found = LabelledSet(str(path), "jsonl", [])
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                _skip(found, "line that is not a JSON object", f"{path}:{number}: not a JSON object, skipped")
                continue
            _row(found, base, f"{path}:{number}", record.get("path", record.get("image")), record.get("label"))
        return found
    found = LabelledSet(str(path), "csv", [])
    rows = list(csv.reader(io.StringIO(text)))
    if rows and [c.strip().lower() for c in rows[0][:2]] in (["path", "label"], ["image", "label"]):
        rows = rows[1:]
        start = 2
    else:
        start = 1
    for number, row in enumerate(rows, start):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # an empty line; a row of empty cells (",,") is a row without a path and a label
        _row(found, base, f"{path}:{number}", row[0] if row else None, row[1] if len(row) > 1 else None)
    return found


def read_labelled(data: str | Path) -> LabelledSet:
    """``data`` as a labelled set: a folder tree, or a .csv / .jsonl list."""
    p = Path(data)
    if p.is_dir():
        found = read_folder(p)
    elif p.is_file():
        if p.suffix.lower() not in (".csv", ".jsonl", ".ndjson", ".txt"):
            raise InputDataError(f"{p}: not a folder, .csv or .jsonl file", hint=LIST_HINT)
        found = read_list(p)
    else:
        raise InputDataError(f"{p}: no such folder or file", hint="give an ImageFolder tree or a CSV/JSONL list")
    if not found.items:
        raise InputDataError(f"{p}: no labelled images found",
                             hint="an ImageFolder tree holds one folder per class with the images inside; " + LIST_HINT)
    return found


def normalise(name: str) -> str:
    return " ".join(name.replace("_", " ").replace("-", " ").lower().split())


def label_keys(names: Sequence[str]) -> dict[str, set[int]]:
    """Every way a class may be written → the class indices: the name, each of its comma-separated synonyms,
    a WordNet id leading the name (``n01440764 tench, Tinca tinca``), and the class number."""
    keys: dict[str, set[int]] = {}
    for index, name in enumerate(names):
        forms = {normalise(name), str(index)}
        head, _, rest = name.strip().partition(" ")
        if WNID.match(head):
            forms |= {head.lower(), normalise(rest)}
            name = rest
        forms |= {normalise(part) for part in name.split(",") if part.strip()}
        for form in forms - {""}:
            keys.setdefault(form, set()).add(index)
    return keys


@dataclass
class MatchedSet:
    images: list[str]
    labels: list[int]
    unmatched: dict[str, int]  # class name as written → images skipped
    skipped: dict[str, int]


def match_labels(found: LabelledSet, names: Sequence[str]) -> MatchedSet:
    """Each image's label as a class index of the model; a label matching no class (or several) is said once
    per name, and its images are skipped and counted."""
    keys = label_keys(names)
    images: list[str] = []
    labels: list[int] = []
    unmatched: dict[str, int] = {}
    for path, label in found.items:
        text = label.strip()
        hits = keys.get(text.lstrip("0") or "0", set()) if text.isdigit() else keys.get(normalise(text), set())
        if len(hits) == 1:
            images.append(path)
            labels.append(next(iter(hits)))
        else:
            unmatched[label] = unmatched.get(label, 0) + 1
    for label, count in unmatched.items():
        hits = keys.get(normalise(label), set())
        why = f"matches {len(hits)} classes" if len(hits) > 1 else "matches no class of the model's labels"
        progress.warn(f"class {label!r} {why}: {count} image(s) skipped")
    skipped = dict(found.skipped)
    if unmatched:
        skipped["label matches no class"] = sum(unmatched.values())
    return MatchedSet(images, labels, unmatched, skipped)
