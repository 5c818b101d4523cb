"""``compare``: how much the outputs of two models, or one model on two targets, differ on the same inputs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from onnpu.calibration import load_calibration
from onnpu.context_cache import open_session
from onnpu.inspection import tensor_infos
from onnpu.preprocess import PreprocessConfig, config_from_metadata
from onnpu.quality import OutputQuality, compare_outputs
from onnpu.running import align_by_position, float_view, output_as_float, pair_outputs, prepare_feeds
from onnpu.session import LoadedSession
from onnpu.targets import Target


@dataclass
class CompareResult:
    reference: str
    candidate: str
    samples: int
    input_source: str
    outputs: list[OutputQuality]

    def to_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "candidate": self.candidate, "samples": self.samples,
                "input_source": self.input_source, "outputs": [o.to_dict() for o in self.outputs]}


def _outputs(loaded: LoadedSession, feeds: list[dict[str, np.ndarray]], model: str,
             dims: Mapping[str, int] | None) -> dict[str, list[np.ndarray]]:
    inputs, outputs = tensor_infos(loaded.proto)
    result: dict[str, list[np.ndarray]] = {o.name: [] for o in outputs}
    for feed in feeds:
        prepared, _ = prepare_feeds(inputs, align_by_position(feed, [i.name for i in inputs]), model, dims)
        for info, value in zip(outputs, loaded.run(prepared), strict=True):
            result[info.name].append(output_as_float(info, value))
    return result


def compare(reference: tuple[str | Path, Target], candidate: tuple[str | Path, Target], *,
            inputs: str | Path = "random", count: int = 8, preprocess: PreprocessConfig | None = None,
            dims: Mapping[str, int] | None = None, seed: int = 0, cache: bool = True) -> CompareResult:
    """Run both on the same inputs (images, an .npz, or ``random``) and compare every output they share."""
    ref_model, ref_target = reference
    cand_model, cand_target = candidate
    ref = open_session(ref_model, ref_target, dims=dims, cache=cache)
    cand = open_session(cand_model, cand_target, dims=dims, cache=cache)
    infos = [float_view(i) for i in tensor_infos(ref.proto)[0]]
    metadata = {m.key: m.value for m in ref.proto.metadata_props}
    pre = preprocess or config_from_metadata(metadata) or PreprocessConfig()
    data = load_calibration(inputs, infos, preprocess=pre, holdout=0, limit=count, seed=seed, random_count=count,
                            dims=dims)
    feeds = data.calibration
    a = _outputs(ref, feeds, str(ref_model), dims)
    b = _outputs(cand, feeds, str(cand_model), dims)
    qualities = [compare_outputs(label, a[x], b[y]) for label, x, y in pair_outputs(a, b)]
    return CompareResult(f"{Path(ref_model).name} @ {ref_target.name}", f"{Path(cand_model).name} @ {cand_target.name}",
                         len(feeds), str(inputs), qualities)
