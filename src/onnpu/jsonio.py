"""The one JSON writer and reader for everything a program reads from onnpu: ``--json`` output, reports,
results files (JSONL), manifests and records.

Output is strict JSON (RFC 8259): ``NaN``, ``Infinity`` and ``-Infinity`` are never written. A non-finite
number becomes ``null`` (e.g. the SQNR of two identical outputs is infinite: ``"sqnr_db": null``). Values
that are not JSON types are converted by what they are — dataclasses (through their ``to_dict`` when they
have one), paths, enums, numpy scalars and arrays, sets and tuples — and anything else is a programming
error (``TypeError``), never silently turned into a string."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

__all__ = ["dumps", "dumps_line", "loads", "to_jsonable"]


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON types, with every non-finite float replaced by None."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [to_jsonable(v) for v in items]
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, PurePath):
        return str(value)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_jsonable(to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    kind = type(value).__module__.split(".", 1)[0]
    if kind == "numpy":  # scalars and arrays, without importing numpy here
        return to_jsonable(value.tolist())
    raise TypeError(f"cannot write a {type(value).__name__} as JSON: {value!r}")


def dumps(value: Any, *, indent: int | None = 2, sort_keys: bool = False) -> str:
    """Strict JSON text (non-finite numbers as null)."""
    return json.dumps(to_jsonable(value), indent=indent, allow_nan=False, ensure_ascii=False, sort_keys=sort_keys)


def dumps_line(value: Any) -> str:
    """One JSONL record: compact, on one line, ending in a newline."""
    return json.dumps(to_jsonable(value), allow_nan=False, ensure_ascii=False, separators=(",", ":")) + "\n"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"not strict JSON: {name}")


def loads(text: str | bytes) -> Any:
    """Parse strict JSON: ``NaN`` / ``Infinity`` are refused (Python's ``json.loads`` accepts them)."""
    return json.loads(text, parse_constant=_reject_constant)
