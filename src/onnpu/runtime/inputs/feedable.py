"""Whether onnpu can make or hold data for an input: a tensor (not a sequence, map or optional), of a numeric or
boolean element type, whose data fits in the memory this process can still get — refused by name before any
array is allocated (a 150-byte model may declare a [1, 3, 100000, 100000] input)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from onnpu.errors import InputDataError
from onnpu.model.inspection import TensorInfo
from onnpu.model.limits import check_memory

__all__ = ["check_container", "check_feedable"]


def check_container(info: TensorInfo, model: str = "") -> None:
    """An input that is a sequence, map or optional, not a tensor: refused naming it."""
    if info.container is not None:
        raise InputDataError(f"{model + ': ' if model else ''}input {info.name!r} is not a tensor but "
                             f"{info.container}: onnpu feeds tensors", hint="export the model with tensor inputs")


def check_feedable(info: TensorInfo, shape: Sequence[int] | None = None) -> np.dtype:
    """The numpy dtype of input ``info``, or an error naming it: not a tensor, an element type onnpu makes no
    data for (text, complex, bfloat16, 8- and 4-bit floats and integers), or data of ``shape`` too large."""
    check_container(info)
    try:
        dtype = info.numpy_dtype
    except (KeyError, ValueError, TypeError):
        dtype = np.dtype(object)
    if dtype.kind not in "biuf":
        raise InputDataError(f"input {info.name!r} is {info.elem_type}: onnpu makes and measures data for numeric "
                             "and boolean inputs only", hint="export the model with float or integer inputs")
    if shape is not None:
        check_memory(f"input {info.name!r}", math.prod(int(d) for d in shape) * dtype.itemsize,
                     f"its data {list(shape)} ({info.elem_type})")
    return dtype
