"""The one JSON writer: strict output (no NaN/Infinity), non-finite numbers as null, typed conversion."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from pathlib import Path

import numpy as np
import pytest

from onnpu import jsonio
from onnpu.metrics import compare_outputs


def test_non_finite_numbers_are_null_and_output_parses_strictly() -> None:
    text = jsonio.dumps({"a": math.inf, "b": -math.inf, "c": math.nan, "d": [1.5, np.float32("nan")]})
    assert jsonio.loads(text) == {"a": None, "b": None, "c": None, "d": [1.5, None]}


def test_identical_outputs_sqnr_is_null_not_infinity() -> None:
    x = np.arange(10, dtype=np.float32)
    quality = compare_outputs("y", [x], [x.copy()])
    assert quality.sqnr_db == math.inf  # the figure itself stays a float for the library
    assert jsonio.loads(jsonio.dumps(quality))["sqnr_db"] is None


def test_loads_refuses_what_python_json_accepts() -> None:
    assert json.loads('{"x": NaN}')  # the standard library is lenient ...
    for bad in ('{"x": NaN}', '[Infinity]', '[-Infinity]'):
        with pytest.raises(ValueError, match="not strict JSON"):
            jsonio.loads(bad)


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Plain:
    path: Path
    colour: Colour
    values: tuple[int, ...]


def test_types_converted_by_what_they_are() -> None:
    data = {"plain": Plain(Path("/x/y"), Colour.RED, (1, 2)), "arr": np.arange(3, dtype=np.int64),
            "scalar": np.float64(0.25), "flag": np.bool_(True), "set": {"b", "a"}}
    assert jsonio.loads(jsonio.dumps(data)) == {"plain": {"path": "/x/y", "colour": "red", "values": [1, 2]},
                                                "arr": [0, 1, 2], "scalar": 0.25, "flag": True, "set": ["a", "b"]}


def test_unknown_types_are_an_error_not_a_string() -> None:
    with pytest.raises(TypeError, match="cannot write a object"):
        jsonio.dumps({"x": object()})


def test_jsonl_line_is_one_compact_line() -> None:
    line = jsonio.dumps_line({"a": [1, math.nan], "b": "é"})
    assert line == '{"a":[1,null],"b":"é"}\n'
