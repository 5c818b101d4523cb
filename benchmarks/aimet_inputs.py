"""The inputs of the AIMET side-by-side run (benchmarks/aimet_side_by_side.py), from onnpu's own split: the
EfficientNet-Lite0 float model and the 256 calibration / 80 held-out crops of `bench_quant.py --quick` (photo
crops, 0.25 held out, seed 0), preprocessed as the model's metadata says — so AIMET sees exactly the tensors
onnpu's quantization ablation calibrates and evaluates on. Writes FOLDER/data.npz and FOLDER/model.onnx."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from onnpu import zoo
from onnpu.model.files import read_model
from onnpu.model.inspection import tensor_infos
from onnpu.quantization.calibration import load_calibration
from onnpu.vision.preprocess import config_from_metadata
from onnpu.zoo.photos import write_crops


def main(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    built = zoo.build()
    proto = read_model(built.float_model, load_external_data=False)
    preprocess = config_from_metadata({p.key: p.value for p in proto.metadata_props})
    with tempfile.TemporaryDirectory() as tmp:
        crops = Path(tmp) / "crops"
        write_crops(crops, per_photo=16)
        data = load_calibration(crops, tensor_infos(proto)[0], preprocess=preprocess, holdout=0.25, seed=0)
    name = tensor_infos(proto)[0][0].name
    np.savez(folder / "data.npz", calib=np.concatenate([f[name] for f in data.calibration]),
             held=np.concatenate([f[name] for f in data.heldout]))
    shutil.copy(built.float_model, folder / "model.onnx")
    print(f"{folder}: {len(data.calibration)} calibration, {len(data.heldout)} held-out inputs")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "build/aimet")))
