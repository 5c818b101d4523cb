"""Deployed-folder section of BENCHMARKS.md: the cost of verifying a compiled folder on load (cold: SHA-256 of
every file; cached: the path/size/mtime stamp), and ``onnpu.load(DIR)`` + first run in a fresh process against a
bare ONNX Runtime session on the same compiled file."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from onnpu import get_target
from onnpu.runtime.compiled import model_for_target
from onnpu.tasks.compile import compile_for_socs
from onnpu.zoo import ZooModel

ONNPU = """import time; t = time.perf_counter()
import numpy as np, onnpu
m = onnpu.load({folder!r}, soc="qcs6490")
m.run({{m.input_names[0]: np.zeros({shape}, np.float32)}})
print(time.perf_counter() - t)"""

BARE = """import time; t = time.perf_counter()
import numpy as np, onnxruntime as ort, onnxruntime_qnn
ort.register_execution_provider_library("QNNExecutionProvider", onnxruntime_qnn.get_library_path())
so = ort.SessionOptions()
so.add_provider_for_devices([d for d in ort.get_ep_devices() if d.ep_name == "QNNExecutionProvider"],
                            {{"backend_type": "htp", "soc_model": "93"}})
s = ort.InferenceSession({path!r}, sess_options=so)
i = s.get_inputs()[0]
s.run(None, {{i.name: np.zeros({shape}, np.uint8 if "uint8" in i.type else np.float32)}})
print(time.perf_counter() - t)"""


def _fresh(code: str, env: dict[str, str]) -> float:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def deployed_section(model: ZooModel | Path, quick: bool) -> list[str]:
    source = model.quantized_model if isinstance(model, ZooModel) else Path(model)
    repeats = 2 if quick else 5
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "compiled"
        [entry] = compile_for_socs(source, folder, ["qcs6490"], inputs=0).entries
        for file in folder.iterdir():  # older than the 2 s in which a state is not remembered
            os.utime(file, ns=(time.time_ns() - 10**10,) * 2)
        env = {**os.environ, "ONNPU_CACHE_DIR": str(Path(tmp) / "cache"), "ONNPU_SOC": "qcs6490"}
        os.environ["ONNPU_CACHE_DIR"] = env["ONNPU_CACHE_DIR"]
        target = get_target("npu", soc="qcs6490")
        start = time.perf_counter()
        model_for_target(folder, target)
        cold = time.perf_counter() - start
        cached = []
        for _ in range(20):
            start = time.perf_counter()
            model_for_target(folder, target)
            cached.append(time.perf_counter() - start)
        from onnpu.runtime.deployment import load_manifest, verify_file

        manifest = load_manifest(folder)
        verify = []
        for _ in range(20):
            start = time.perf_counter()
            verify_file(folder / entry.file, manifest)
            verify.append(time.perf_counter() - start)
        shape = [1, 3, 224, 224]
        ours = [_fresh(ONNPU.format(folder=str(folder), shape=shape), env) for _ in range(repeats)]
        bare = [_fresh(BARE.format(path=str(folder / entry.file), shape=shape), env) for _ in range(repeats)]
    mb = entry.size_bytes / 1e6
    return ["## A compiled folder on load (`onnpu.load(DIR)`, verification)", "",
            f"EfficientNet-Lite0 W8A8 compiled for QCS6490 ({mb:.1f} MB context, embedded). Verification of the "
            "file against the manifest (SHA-256 and size of every file, then the stamp remembered): "
            f"cold {cold * 1000:.1f} ms (including reading the model and its binary's records), "
            f"cached {statistics.median(verify) * 1000:.2f} ms for the file check, "
            f"{statistics.median(cached) * 1000:.1f} ms for the whole pick + check + parse before a session.", "",
            "| fresh process: import → loaded → first run | median s | runs |", "|---|---|---|",
            f"| `onnpu.load(DIR).run(...)` (verified) | {statistics.median(ours):.2f} | {repeats} |",
            f"| bare `InferenceSession` on the same file | {statistics.median(bare):.2f} | {repeats} |", ""]


if __name__ == "__main__":
    print("\n".join(deployed_section(Path(sys.argv[1]), "--quick" in sys.argv)))
