"""Ablation of onnpu's quantization improvements on EfficientNet-Lite0 (BENCHMARKS.md section `quant`): each
measured on its own and together, on the same calibration / held-out split by photo (held-out crops are never
used for calibration), logits against the float model, quantized arithmetic evaluated exactly."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from onnpu.model.files import read_model
from onnpu.model.inspection import tensor_infos
from onnpu.quantization.calibration import load_calibration
from onnpu.quantization.config import QuantizeConfig
from onnpu.quantization.pipeline import quantize
from onnpu.vision.preprocess import config_from_metadata
from onnpu.zoo import ZooModel
from onnpu.zoo.photos import write_crops

RECIPES = [  # name, activations, range search, rounding, cross-layer equalisation, per-channel weights
    ("W8A8 min/max ranges, nearest rounding (ONNX Runtime's QNN recipe)", "u8", False, "nearest", False, True),
    ("W8A8 + range search", "u8", True, "nearest", False, True),
    ("W8A8 + optimised rounding", "u8", False, "optimized", False, True),
    ("W8A8 + cross-layer equalisation", "u8", False, "nearest", True, True),
    ("W8A8 + range search + optimised rounding (default)", "u8", True, "optimized", False, True),
    ("W8A8 default + cross-layer equalisation", "u8", True, "optimized", True, True),
    ("W8A8 per-tensor weights, nearest rounding", "u8", False, "nearest", False, False),
    ("W8A8 per-tensor weights + cross-layer equalisation", "u8", False, "nearest", True, False),
    ("W8A16 min/max ranges, nearest rounding", "u16", False, "nearest", False, True),
    ("W8A16 + range search + optimised rounding (default)", "u16", True, "optimized", False, True),
]


def quant_section(model: ZooModel, quick: bool) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        crops = Path(tmp) / "crops"
        write_crops(crops, per_photo=16 if quick else 60)
        proto = read_model(model.float_model, load_external_data=False)
        pre = config_from_metadata({m.key: m.value for m in proto.metadata_props})
        data = load_calibration(crops, tensor_infos(proto)[0], preprocess=pre, holdout=0.25, seed=0)
        rows = []
        for name, acts, ranges, rounding, equalize, per_channel in RECIPES:
            t0 = time.perf_counter()
            r = quantize(model.float_model, Path(tmp) / "q.onnx", data, force=True, jobs=2,
                         config=QuantizeConfig(acts, per_channel=per_channel, range_search=ranges,
                                               rounding=rounding, equalize=equalize))
            q = r.quality[0]
            kept = "-" if r.rounding is None else f"{r.rounding.kept_nearest} of {len(r.rounding.layers)}"
            narrowed = "-" if r.ranges is None else (f"{r.ranges.changed} of {len(r.ranges.tensors)}"
                                                      if r.ranges.kept else "not kept")
            rows.append(f"| {name} | {q.sqnr_db:.2f} | {q.top1_agreement:.1%} | {narrowed} | {kept} | "
                        f"{time.perf_counter() - t0:.0f} |")
    photos = sorted({n.split("/")[0] for n in data.heldout_names})
    return ["## Quantization ablation: EfficientNet-Lite0, each improvement on its own", "",
            f"Calibration on {len(data.calibration)} crops, evaluation on {len(data.heldout)} crops of photos never "
            f"used for calibration ({', '.join(photos)}); SQNR and top-1 agreement of the logits against the float "
            "model, the quantized arithmetic evaluated exactly. Range search and optimised rounding each keep the "
            "min/max / nearest choice wherever that measures better on calibration inputs they did not fit on. Time "
            "is the whole `quantize` (calibration, quantization, both evaluations) on a shared 2-core machine.", "",
            "| recipe | SQNR dB | top-1 agreement | ranges narrowed | layers kept nearest | seconds |",
            "|---|---|---|---|---|---|", *rows, "",
            "Cross-layer equalisation (`--equalize`; exact in float: ReLU6 kept as Relu + a per-channel Min) is "
            "measured here with per-channel weights (onnpu's default) and per-tensor weights, where it is meant to "
            "help; it is on by default only if it measures better here and on models it was not tuned on. Not "
            "built yet: high-bias absorption, a learned (AdaRound-style) refinement, cost-ranked mixed "
            "precision. AIMET was not run here (aimet-onnx 2.42 is on PyPI; not attempted on this machine): its "
            "published-here figures (DESIGN.md, AIMET 2.42 torch CPU, HTP config, same kind of crops) are W8A8 + "
            "AdaRound 22.5 dB / 88 % top-1 in 38 min, W8A16 + AdaRound 28.0 dB / 95 %.", ""]
