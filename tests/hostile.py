"""Hostile models: valid ONNX whose external-data entries point where a model must not read."""

from __future__ import annotations

from pathlib import Path

import onnx

import models
from onnpu.model.external_data import external_tensors
from onnpu.model.files import write_model


def with_external_data(folder: Path, name: str = "model.onnx", **kwargs: int | str) -> Path:
    """``models.float_conv`` (``batch``, ``hidden``) written with its weights in ``<name>.data`` beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    return write_model(models.float_conv(**kwargs), folder / name, external_data=True, size_threshold=0)  # type: ignore[arg-type]


def rewrite(path: Path, *, location: str | None = None, offset: int | str | None = None,
            length: int | str | None = None, tensor: str | None = None) -> Path:
    """Change the external-data entries of ``tensor`` (default: every external tensor) in the model file."""
    model = onnx.load(str(path), load_external_data=False)
    for t in external_tensors(model):
        if tensor is not None and t.name != tensor:
            continue
        entries = {e.key: e.value for e in t.external_data}
        for key, value in (("location", location), ("offset", offset), ("length", length)):
            if value is not None:
                entries[key] = str(value)
        del t.external_data[:]
        for key, value in entries.items():
            t.external_data.add(key=key, value=value)
    onnx.save(model, str(path))
    return path
