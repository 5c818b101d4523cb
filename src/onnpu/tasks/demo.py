"""The main job, end to end: the default model classifies a photo on CPU (float), CPU (quantized) and
the NPU (quantized, CPU fallback disabled), side by side."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onnpu import progress, zoo
from onnpu.errors import InputDataError, OnnpuError
from onnpu.runtime.targets import get_target
from onnpu.vision.classify import ClassifyResult, classify
from onnpu.zoo.photos import photo_path

DEFAULT_IMAGE = "matplotlib:grace_hopper.jpg"


@dataclass
class DemoRun:
    """One column. A column that cannot run (no QNN EP, the NPU refusing the model) has ``error`` and no
    result; the other columns run."""

    label: str
    result: ClassifyResult | None
    error: OnnpuError | None = None


@dataclass
class DemoResult:
    image: str
    runs: list[DemoRun]
    zoo_built: bool

    @property
    def failed(self) -> list[DemoRun]:
        return [r for r in self.runs if r.result is None]

    @property
    def npu_matches_float(self) -> bool | None:
        """Whether the NPU's top-1 is the float model's (None when either column did not run)."""
        first, last = self.runs[0].result, self.runs[-1].result
        if first is None or last is None:
            return None
        return first.images[0].top[0].index == last.images[0].top[0].index

    def to_dict(self) -> dict[str, Any]:
        return {"image": self.image, "npu_top1_matches_float": self.npu_matches_float,
                "runs": [{"label": r.label, **(r.result.to_dict() if r.result else {}),
                          "error": str(r.error) if r.error else None,
                          "hint": r.error.hint if r.error else None} for r in self.runs]}


def demo(image: str | Path | None = None, *, top: int = 5, repeat_cpu: int = 10, repeat_npu: int = 3) -> DemoResult:
    """The built-in model classifies ``image`` on CPU float, CPU quantized and the NPU (CPU fallback disabled).
    A column that cannot run is reported with its error and the others run; when none can, the first error is
    raised."""
    model = zoo.build()
    path = Path(image) if image else photo_path(DEFAULT_IMAGE)
    plan = [("CPU float", model.float_model, "cpu", repeat_cpu),
            ("CPU quantized", model.quantized_model, "cpu", repeat_cpu),
            ("NPU quantized", model.quantized_model, "npu", repeat_npu)]
    runs = []
    for label, model_path, name, repeat in plan:
        try:
            target = get_target(name, allow_fallback=name == "cpu")  # the NPU column: nothing on the CPU
            progress.note(f"{label}: {model_path.name} on {target.describe()}")
            runs.append(DemoRun(label, classify([path], model_path, target, top=top, repeat=repeat,
                                                cache=target.is_qnn)))
        except OnnpuError as exc:
            if isinstance(exc, InputDataError):  # the image: no column can run
                raise
            runs.append(DemoRun(label, None, exc))  # reported in its column
    if all(r.error for r in runs) and runs[0].error is not None:
        raise runs[0].error
    return DemoResult(str(path), runs, model.built)
