"""AIMET (aimet-onnx 2.42.0) post-training recipes on EfficientNet-Lite0, side by side with onnpu's ablation
(`make bench-aimet`; runs in a venv of its own: AIMET pins torch and onnx versions of its own).

Calibration and AdaRound data: onnpu's 256 calibration crops only (benchmarks/aimet_inputs.py writes them);
evaluation: its 80 held-out crops; SQNR and top-1 agreement of the AIMET simulation's logits
(QuantizationSimModel.session) against the float model on ONNX Runtime's CPU EP, over all logits together.
Recipes: a min/max ("tf"), b TF-enhanced, c CLE + TF-enhanced, d c + AdaRound; w: 8-bit weights alone
(activation quantizers off); c2: c with AIMET's ReLU6 → ReLU swap (changes the float model). HTP v73 config.

Prints one JSON line per recipe and writes --out.
Usage: python aimet_side_by_side.py --data DATA.npz --model MODEL.onnx [--recipes a,b,c,d] [--bw 8,16] [--iters 50]
"""
# ruff: noqa: E402  (the thread count is set in the environment before numpy and torch load)
import argparse
import copy
import json
import os
import platform
import sys
import tempfile
import time

THREADS = 2
os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))

import numpy as np
import onnx
import onnxruntime as ort
import torch

torch.set_num_threads(THREADS)

import logging

import aimet_onnx
from aimet_onnx.common.utils import AimetLogger

AimetLogger.set_level_for_all_areas(logging.WARNING)
from aimet_onnx import QuantizationSimModel, apply_adaround
from aimet_onnx.common.defs import QuantScheme
from aimet_onnx.cross_layer_equalization import equalize_model

CONFIG = os.path.join(
    os.path.dirname(aimet_onnx.__file__),
    "common", "quantsim_config", "htp_quantsim_config_v73.json",
)
CALIB_BATCH = 32  # 256 calibration samples -> 8 batches of 32
EVAL_BATCH = 16

RECIPES = {
    "a": dict(name="minmax(tf)", cle=False, scheme=QuantScheme.post_training_tf, adaround=0),
    "b": dict(name="tf_enhanced", cle=False, scheme=QuantScheme.post_training_tf_enhanced, adaround=0),
    "c": dict(name="cle+tf_enhanced", cle=True, scheme=QuantScheme.post_training_tf_enhanced, adaround=0),
    "d": dict(name="cle+tf_enhanced+adaround", cle=True, scheme=QuantScheme.post_training_tf_enhanced, adaround=-1),
    # extra: same as c/d, but the Clip(0,6) min/max are fed as Constant *nodes* (instead of
    # initializers) so AIMET's equalize_model recognises them and applies its ReLU6->ReLU swap,
    # which lets CLS form sets across the activations (changes the float function).
    "c2": dict(name="cle(relu6->relu)+tf_enhanced", cle="relu6", scheme=QuantScheme.post_training_tf_enhanced,
               adaround=0),
    "d2": dict(name="cle(relu6->relu)+tf_enhanced+adaround", cle="relu6",
               scheme=QuantScheme.post_training_tf_enhanced, adaround=-1),
    # diagnostic: W8 weights only, activation quantizers disabled (weight-error ceiling)
    "w": dict(name="tf_enhanced weights-only(act float)", cle=False, scheme=QuantScheme.post_training_tf_enhanced,
              adaround=0, act_off=True),
}


def clip_bounds_as_constant_nodes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Re-express Clip min/max initializers as Constant nodes (same function)."""
    m = copy.deepcopy(model)
    inits = {t.name: t for t in m.graph.initializer}
    used = {}
    for n in m.graph.node:
        if n.op_type == "Clip":
            for i in range(1, len(n.input)):
                if n.input[i] in inits:
                    used[n.input[i]] = inits[n.input[i]]
    consts = []
    for name, t in used.items():
        consts.append(onnx.helper.make_node("Constant", [], [name], name=name + "_const", value=t))
        m.graph.initializer.remove(t)
    nodes = consts + list(m.graph.node)
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    return m


def dynamic_batch(model: onnx.ModelProto) -> onnx.ModelProto:
    """Same graph, batch dim of input/output made symbolic so batches of 32 can be fed."""
    m = copy.deepcopy(model)
    for v in list(m.graph.input) + list(m.graph.output):
        d = v.type.tensor_type.shape.dim[0]
        d.ClearField("dim_value")
        d.dim_param = "N"
    return m


def sess_opts():
    so = ort.SessionOptions()
    so.intra_op_num_threads = THREADS
    so.inter_op_num_threads = 1
    return so


def run(sess, x, bs=EVAL_BATCH):
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: x[i:i + bs]})[0] for i in range(0, len(x), bs)])


def metrics(ref, q):
    ref = ref.astype(np.float64)
    q = q.astype(np.float64)
    sqnr = 10 * np.log10(np.sum(ref ** 2) / np.sum((ref - q) ** 2))
    top1 = 100.0 * np.mean(ref.argmax(1) == q.argmax(1))
    return round(float(sqnr), 3), round(float(top1), 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipes", default="a,b,c,d")
    ap.add_argument("--bw", default="8,16", help="activation bitwidths")
    ap.add_argument("--iters", default="50", help="AdaRound iterations per layer, comma list")
    ap.add_argument("--data", required=True, help="data.npz from benchmarks/aimet_inputs.py")
    ap.add_argument("--model", required=True, help="the float model (benchmarks/aimet_inputs.py)")
    ap.add_argument("--out", default="aimet.json")
    args = ap.parse_args()

    data = np.load(args.data)
    calib, held = data["calib"].astype(np.float32), data["held"].astype(np.float32)
    assert calib.shape == (256, 3, 224, 224) and held.shape == (80, 3, 224, 224)
    calib_inputs = [{"image": calib[i:i + CALIB_BATCH]} for i in range(0, len(calib), CALIB_BATCH)]

    orig = onnx.load(args.model)
    fmodel = dynamic_batch(orig)

    # float reference on the ORIGINAL model (batch 1), onnxruntime CPU
    ref_sess = ort.InferenceSession(args.model, sess_opts(), providers=["CPUExecutionProvider"])
    ref = run(ref_sess, held, bs=1)
    dyn_sess = ort.InferenceSession(fmodel.SerializeToString(), sess_opts(), providers=["CPUExecutionProvider"])
    dyn_check = metrics(ref, run(dyn_sess, held))
    print(json.dumps({"check": "float dynamic-batch vs float", "sqnr_db": dyn_check[0], "top1": dyn_check[1]}),
          flush=True)

    # CLE'd float model (AIMET's equalize_model; also replaces Conv->Clip(0,6)->Conv with ReLU)
    cle_models = {}

    def get_cle(kind):
        if kind not in cle_models:
            t0 = time.time()
            cle_model = copy.deepcopy(fmodel) if kind is True else clip_bounds_as_constant_nodes(fmodel)
            equalize_model(cle_model)
            cle_models[kind] = cle_model
            dt = time.time() - t0
            s = ort.InferenceSession(cle_model.SerializeToString(), sess_opts(), providers=["CPUExecutionProvider"])
            sq, t1 = metrics(ref, run(s, held))
            ops = {}
            for n in cle_model.graph.node:
                ops[n.op_type] = ops.get(n.op_type, 0) + 1
            print(json.dumps({"check": f"float CLE model ({kind}) vs float", "sqnr_db": sq, "top1": t1,
                              "cle_seconds": round(dt, 2), "ops": ops}), flush=True)
        return cle_models[kind]

    results = []
    iters_list = [int(i) for i in args.iters.split(",")]
    for key in args.recipes.split(","):
        base = RECIPES[key]
        variants = [dict(base, adaround=n) for n in iters_list] if base["adaround"] else [base]
        for rec in variants:
            for abw in [int(b) for b in args.bw.split(",")]:
                t0 = time.time()
                model = copy.deepcopy(get_cle(rec["cle"])) if rec["cle"] else copy.deepcopy(fmodel)
                with tempfile.TemporaryDirectory() as tmp:
                    sim = QuantizationSimModel(
                        model,
                        param_type="int8",
                        activation_type="int16" if abw == 16 else "int8",
                        quant_scheme=rec["scheme"],
                        config_file=CONFIG,
                        providers=["CPUExecutionProvider"],
                        path=tmp,
                        session_options_kwargs={"intra_op_num_threads": THREADS, "inter_op_num_threads": 1},
                    )
                    if rec.get("act_off"):
                        for n in sim.activation_names:
                            if n in sim.qc_quantize_op_dict:
                                sim.qc_quantize_op_dict[n].enabled = False
                    t_ada = None
                    if rec["adaround"]:
                        ta = time.time()
                        apply_adaround(sim, calib_inputs, num_iterations=rec["adaround"])
                        t_ada = time.time() - ta
                    sim.compute_encodings(calib_inputs)
                    t_calib = time.time() - t0
                    q = run(sim.session, held)
                wall = time.time() - t0
                sq, t1 = metrics(ref, q)
                name = rec["name"] + (f"[{rec['adaround']}it]" if rec["adaround"] else "")
                r = {"recipe": name, "W": 8, "A": abw, "sqnr_db": sq, "top1_agree_pct": t1,
                     "wall_s": round(wall, 1), "calib_s": round(t_calib, 1),
                     "adaround_s": None if t_ada is None else round(t_ada, 1)}
                print(json.dumps(r), flush=True)
                results.append(r)
                with open(args.out, "w") as f:
                    json.dump({"aimet_onnx": aimet_onnx.__version__, "config": os.path.basename(CONFIG),
                               "measured": f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} "
                                           f"CPUs, torch {torch.__version__}",
                               "threads": THREADS, "n_calib": len(calib), "n_heldout": len(held),
                               "results": results}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
