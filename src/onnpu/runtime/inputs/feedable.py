"""Whether onnpu can make or hold data for an input: a tensor (not a sequence, map or optional), of a numeric or
boolean element type, whose data fits in the memory this process can still get — refused by name before any
array is allocated (a 150-byte model may declare a [1, 3, 100000, 100000] input)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from onnpu.errors import InputDataError
from onnpu.model.inspection import TensorInfo
from onnpu.model.limits import check_memory

__all__ = ["check_feedable", "check_inputs_fit"]


def check_feedable(info: TensorInfo, shape: Sequence[int] | None = None) -> np.dtype:
    """The numpy dtype of input ``info``, or an error naming it: not a tensor, an element type onnpu makes no
    data for (text, complex, bfloat16, 8- and 4-bit floats and integers), or data of ``shape`` too large."""
    if info.container is not None:
        raise InputDataError(f"input {info.name!r} is not a tensor but {info.container}: onnpu feeds tensors",
                             hint="export the model with tensor inputs")
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


def check_inputs_fit(infos: Iterable[TensorInfo], label: str, dims: Mapping[str, int] | None = None) -> None:
    """One set of the fixed-shape inputs among ``infos`` fits in memory (inputs onnpu cannot feed are left to
    ``check_feedable`` where data is made)."""
    need = 0
    for info in infos:
        shape = info.with_dims(dims).shape
        if info.container is None and shape and all(isinstance(d, int) for d in shape):
            try:
                itemsize = info.numpy_dtype.itemsize
            except (KeyError, ValueError, TypeError):
                continue
            need += math.prod(int(d) for d in shape if isinstance(d, int)) * itemsize
    check_memory(label, need, "one set of its inputs")
