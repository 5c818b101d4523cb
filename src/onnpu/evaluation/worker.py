"""What one worker does, whatever engine runs it (the driver itself, a process of the machine, a Ray
actor): hold one session per model × target, and turn images into each row's top-5 classes. An image is
decoded once and preprocessed per model (each model's own preprocessing); an image that cannot be read is
returned as its error, never raised."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from onnpu.errors import InputDataError
from onnpu.metrics import top_k
from onnpu.model.inspection import TensorInfo, tensor_infos
from onnpu.runtime.context_cache import open_session
from onnpu.runtime.session import LoadedSession
from onnpu.runtime.targets import Target
from onnpu.vision.images import load_image
from onnpu.vision.preprocess import PreprocessConfig, image_to_array, preprocess_for
from onnpu.vision.scores import ScoreReader, score_reader

TOP = 5


@dataclass(frozen=True)
class RowSpec:
    """One row of the evaluation: a model on a target."""

    model: str
    target: Target
    reference: bool = False  # the float model on the CPU, which the other rows are compared with

    @property
    def label(self) -> str:
        return f"{Path(self.model).name} on {self.target.name}"


@dataclass(frozen=True)
class EvalSpec:
    """Everything a worker needs to build its sessions (picklable: it is sent to processes and actors)."""

    rows: tuple[RowSpec, ...]
    preprocess: PreprocessConfig | None = None
    dims: tuple[tuple[str, int], ...] = ()
    output_name: str | None = None
    cache: bool = True
    threads: int | None = 1  # one intra-op thread per worker: workers, not threads, use the cores
    models_on_node: tuple[tuple[str, str], ...] = ()  # model as given → its copy on this node (Ray)


@dataclass
class ItemRecord:
    """One image: its index in the set, and each row's top-5 class indices (or why it could not be read)."""

    index: int
    tops: list[list[int]] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "tops": self.tops, "error": self.error}


@dataclass
class RowSession:
    spec: RowSpec
    session: LoadedSession
    info: TensorInfo
    reader: ScoreReader
    config: PreprocessConfig
    fixed_batch: int

    def describe(self) -> dict[str, Any]:
        placement = self.session.placement
        return {"providers": self.session.providers, "placement": placement.headline() if placement else "not recorded",
                "scores": self.reader.describe(), "preprocess": self.config.to_dict(),
                "session_seconds": self.session.create_seconds}


def open_row(spec: RowSpec, eval_spec: EvalSpec) -> RowSession:
    dims: Mapping[str, int] = dict(eval_spec.dims)
    model = dict(eval_spec.models_on_node).get(spec.model, spec.model)
    loaded = open_session(model, spec.target, dims=dims, threads=eval_spec.threads, cache=eval_spec.cache,
                          config={"session.intra_op.allow_spinning": "0"})
    inputs, outputs = tensor_infos(loaded.proto)
    if len(inputs) != 1:
        raise InputDataError(f"{spec.model}: eval needs a classifier with one image input (it has {len(inputs)})",
                             hint="use `onnpu run` for multi-input models")
    info = inputs[0].with_dims(dims)
    reader = score_reader(loaded.proto, outputs, output=eval_spec.output_name, model=spec.model)
    fixed = info.shape[0] if info.shape and isinstance(info.shape[0], int) else 1
    per_image = TensorInfo(info.name, info.elem_type, [1, *info.shape[1:]], info.quant)
    config = preprocess_for(loaded.proto, eval_spec.preprocess, spec.model)
    return RowSession(spec, loaded, per_image, reader, config, fixed)


class Evaluator:
    """The sessions of every row, opened once; :meth:`evaluate` classifies images with all of them."""

    def __init__(self, spec: EvalSpec) -> None:
        self.spec = spec
        self.rows = [open_row(row, spec) for row in spec.rows]

    def describe(self) -> list[dict[str, Any]]:
        return [row.describe() for row in self.rows]

    def classes(self, k: int = 0) -> int:
        """How many classes row ``k``'s model scores (one run on a grey image)."""
        from PIL import Image

        return len(self.scores(self.rows[k], Image.new("RGB", (64, 64), (128, 128, 128))))

    @staticmethod
    def scores(row: RowSession, image: Any) -> np.ndarray:
        tensor = image_to_array(image, row.info, row.config)
        if row.fixed_batch > 1:
            tensor = np.repeat(tensor, row.fixed_batch, axis=0)
        return row.reader.rows(row.session.run({row.info.name: tensor}, [row.reader.output.name])[0])[0]

    def _top(self, row: RowSession, image: Any) -> list[int]:
        return [int(i) for i in top_k(self.scores(row, image), TOP)]

    def evaluate(self, items: Sequence[tuple[int, str]]) -> list[ItemRecord]:
        """``(index, image path)`` pairs → one record each, in the order given."""
        records = []
        for index, path in items:
            try:
                image = load_image(path)
            except InputDataError as exc:  # unreadable: said and counted by the driver, the run goes on
                records.append(ItemRecord(index, error=str(exc)))
                continue
            records.append(ItemRecord(index, [self._top(row, image) for row in self.rows]))
        return records
