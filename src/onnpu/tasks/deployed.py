"""``onnpu.load(DIR)``: a compile folder (``onnpu compile … -o DIR``) as an object a program on the board calls —
the file for the SoC this machine runs on, verified against the manifest, loaded on the NPU, with ``run(feeds)``
and the task's call (``classify``). Imports no onnx (models are read by ``onnpu.model.proto``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onnpu.model.inspection import tensor_infos
from onnpu.runtime.context_cache import open_session
from onnpu.runtime.feeds import float_outputs, prepare_feeds
from onnpu.runtime.session import LoadedSession
from onnpu.runtime.targets import Target, get_target

if TYPE_CHECKING:
    import numpy as np

    from onnpu.vision.classify import ClassifyResult


@dataclass
class DeployedModel:
    """A compiled model loaded from its folder: ``path`` is the file picked for ``target``'s SoC."""

    folder: Path
    path: Path
    target: Target
    session: LoadedSession

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in tensor_infos(self.session.proto)[0]]

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in tensor_infos(self.session.proto)[1]]

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One inference. Inputs by name, in the model's dtype or in float for a quantized input (quantized with
        the source model's own parameters); outputs by name, in float (quantized ones dequantized)."""
        prepared, _ = prepare_feeds(tensor_infos(self.session.proto)[0], feeds, str(self.path))
        return float_outputs(self.session, self.session.run(prepared))

    def classify(self, images: Sequence[str | Path], *, top: int = 5, labels: str | Path | None = None,
                 **options: Any) -> ClassifyResult:
        """``onnpu.classify`` on this session: the preprocessing the source model declared is kept in the
        compiled file."""
        from onnpu.vision.classify import classify

        return classify(images, self.path, self.target, top=top, labels=labels, session=self.session, **options)


def load(folder: str | Path, *, soc: str | None = None, allow_fallback: bool = False,
         threads: int | None = None) -> DeployedModel:
    """Load a compile folder (or its manifest, or one compiled file) on the NPU: the file for ``soc`` (default:
    the board's own SoC, else ``ONNPU_SOC`` / the config / QCS6490), verified before loading."""
    target = get_target("npu", allow_fallback=allow_fallback, soc=soc)
    session = open_session(folder, target, cache=False, threads=threads)
    path = Path(session.model_path)
    return DeployedModel(Path(folder), path, target, session)
