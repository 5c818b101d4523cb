"""Compile section of BENCHMARKS.md: the default model compiled for each Dragonwing / Snapdragon SoC — compile
time, load time of the compiled model, size, and its outputs against the exact CPU arithmetic."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from onnpu import get_target
from onnpu.runtime.session import create_session
from onnpu.tasks.compile import compile_for_socs
from onnpu.zoo import ZooModel

SOCS = ("qcs6490", "qcs8550", "qcs9100", "qcs8300", "sa8775p", "sm8750", "sc8380xp")


def compile_section(model: ZooModel, quick: bool) -> list[str]:
    socs = SOCS[:3] if quick else SOCS
    with tempfile.TemporaryDirectory() as tmp:
        result = compile_for_socs(model.quantized_model, Path(tmp), socs, inputs=1)
        first_session = {}
        for soc in socs:  # the plain model, compiled at session creation (what the context saves)
            start = time.perf_counter()
            create_session(model.quantized_model, get_target("npu", soc=soc))
            first_session[soc] = time.perf_counter() - start
    lines = ["## Compiled models per SoC (EfficientNet-Lite0 W8A8, `onnpu compile`)", "",
             "`onnpu compile` per SoC: compile time, the load time of the compiled model (session creation from "
             "the EP context) against creating a session from the plain model (which compiles it), the size, and "
             "the largest output difference from the exact CPU QDQ arithmetic in output quantization steps (one "
             "random input, on the HTP emulator).", "",
             "| SoC | HTP | compile s | load compiled s | session from plain model s | MB | max steps |",
             "|---|---|---|---|---|---|---|"]
    for entry, soc in zip(result.entries, socs, strict=True):
        steps = max((v for v in entry.max_steps.values() if v is not None), default=float("nan"))
        load = f"{entry.load_seconds:.3f}" if entry.load_seconds is not None else "-"
        lines.append(f"| {entry.soc} | v{entry.htp_arch[0]} | {entry.compile_seconds:.2f} | {load} | "
                     f"{first_session[soc]:.3f} | {entry.size_bytes / 1e6:.2f} | {steps:g} |")
    return [*lines, "", "All in one process; the emulator's load time is not a board's, the ratio is the point.", ""]
