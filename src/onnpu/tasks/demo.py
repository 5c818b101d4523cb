"""The main job, end to end: the default model classifies a photo on CPU (float), CPU (quantized) and
the NPU (quantized, CPU fallback disabled), side by side."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onnpu import progress, zoo
from onnpu.runtime.targets import get_target
from onnpu.vision.classify import ClassifyResult, classify
from onnpu.zoo.photos import photo_path

DEFAULT_IMAGE = "matplotlib:grace_hopper.jpg"


@dataclass
class DemoRun:
    label: str
    result: ClassifyResult


@dataclass
class DemoResult:
    image: str
    runs: list[DemoRun]
    zoo_built: bool

    @property
    def npu_matches_float(self) -> bool:
        return self.runs[0].result.images[0].top[0].index == self.runs[-1].result.images[0].top[0].index

    def to_dict(self) -> dict[str, Any]:
        return {"image": self.image, "npu_top1_matches_float": self.npu_matches_float,
                "runs": [{"label": r.label, **r.result.to_dict()} for r in self.runs]}


def demo(image: str | Path | None = None, *, top: int = 5, repeat_cpu: int = 10, repeat_npu: int = 3) -> DemoResult:
    model = zoo.build()
    path = Path(image) if image else photo_path(DEFAULT_IMAGE)
    plan = [("CPU float", model.float_model, get_target("cpu"), repeat_cpu),
            ("CPU quantized", model.quantized_model, get_target("cpu"), repeat_cpu),
            ("NPU quantized", model.quantized_model, get_target("npu", allow_fallback=False), repeat_npu)]
    runs = []
    for label, model_path, target, repeat in plan:
        progress.note(f"{label}: {model_path.name} on {target.describe()}")
        runs.append(DemoRun(label, classify([path], model_path, target, top=top, repeat=repeat,
                                            cache=target.is_qnn)))
    return DemoResult(str(path), runs, model.built)
