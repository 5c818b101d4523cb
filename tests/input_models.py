"""Models whose inputs are not images, built in code: a BERT-like sentence encoder (int64 token ids, token types
and an attention mask), an audio classifier on a raw waveform, and a classifier fed uint8 pixels without Q/DQ
(as AI Hub exports them)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

VOCAB = 100
SEQ = 16
HIDDEN = 32


def _init(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(array, name)


def _model(nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto],
           inits: list[onnx.TensorProto], name: str) -> onnx.ModelProto:
    model = helper.make_model(helper.make_graph(nodes, name, inputs, outputs, inits),
                              opset_imports=[helper.make_opsetid("", 17)], producer_name="onnpu-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def sentence_encoder(seq: int | str = SEQ) -> onnx.ModelProto:
    """One self-attention layer over word + type + position embeddings, mean-pooled under the mask. The mask is
    applied as exporters write it: ``(1 - mask) * float32.min`` added to the scores, so a mask value other than 0
    or 1 overflows to inf and the softmax gives NaN."""
    rng = np.random.default_rng(21)
    f = np.float32
    inits = [_init("word_emb", rng.normal(0, 0.5, (VOCAB, HIDDEN)).astype(f)),
             _init("type_emb", rng.normal(0, 0.5, (2, HIDDEN)).astype(f)),
             _init("pos_emb", rng.normal(0, 0.5, (SEQ if isinstance(seq, str) else seq, HIDDEN)).astype(f)),
             _init("ln_scale", np.ones(HIDDEN, f)), _init("ln_bias", np.zeros(HIDDEN, f)),
             _init("wq", rng.normal(0, 0.2, (HIDDEN, HIDDEN)).astype(f)),
             _init("wk", rng.normal(0, 0.2, (HIDDEN, HIDDEN)).astype(f)),
             _init("wv", rng.normal(0, 0.2, (HIDDEN, HIDDEN)).astype(f)),
             _init("inv_sqrt", np.array(1 / np.sqrt(HIDDEN), f)), _init("one", np.array(1.0, f)),
             _init("neg", np.array(np.finfo(f).min, f)), _init("ax1", np.array([1], np.int64)),
             _init("ax2", np.array([2], np.int64))]
    n = helper.make_node
    nodes = [n("Gather", ["word_emb", "input_ids"], ["we"], name="word_lookup"),
             n("Gather", ["type_emb", "token_type_ids"], ["te"], name="type_lookup"),
             n("Add", ["we", "te"], ["e1"], name="add_types"), n("Add", ["e1", "pos_emb"], ["e2"], name="add_pos"),
             n("LayerNormalization", ["e2", "ln_scale", "ln_bias"], ["x"], axis=-1, name="ln"),
             n("MatMul", ["x", "wq"], ["q"], name="q"), n("MatMul", ["x", "wk"], ["k"], name="k"),
             n("MatMul", ["x", "wv"], ["v"], name="v"),
             n("Transpose", ["k"], ["kt"], perm=[0, 2, 1], name="kt"),
             n("MatMul", ["q", "kt"], ["s0"], name="scores"), n("Mul", ["s0", "inv_sqrt"], ["s1"], name="scale"),
             n("Unsqueeze", ["attention_mask", "ax1"], ["m1"], name="mask_unsqueeze"),
             n("Cast", ["m1"], ["mf"], to=TensorProto.FLOAT, name="mask_cast"),
             n("Sub", ["one", "mf"], ["inv"], name="mask_invert"), n("Mul", ["inv", "neg"], ["bias"], name="mask_bias"),
             n("Add", ["s1", "bias"], ["s2"], name="masked"), n("Softmax", ["s2"], ["p"], axis=-1, name="softmax"),
             n("MatMul", ["p", "v"], ["ctx"], name="context"),
             n("Cast", ["attention_mask"], ["pm"], to=TensorProto.FLOAT, name="pool_cast"),
             n("Unsqueeze", ["pm", "ax2"], ["pm3"], name="pool_unsqueeze"),
             n("Mul", ["ctx", "pm3"], ["masked_ctx"], name="pool_mask"),
             n("ReduceSum", ["masked_ctx", "ax1"], ["summed"], keepdims=0, name="pool_sum"),
             n("ReduceSum", ["pm3", "ax1"], ["count"], keepdims=0, name="pool_count"),
             n("Div", ["summed", "count"], ["embedding"], name="pool_mean")]
    ids = [helper.make_tensor_value_info(name, TensorProto.INT64, [1, seq])
           for name in ("input_ids", "token_type_ids", "attention_mask")]
    return _model(nodes, ids, [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, HIDDEN])],
                  inits, "sentence_encoder")


def waveform_classifier(samples: int = 4000, classes: int = 5) -> onnx.ModelProto:
    """Raw audio [1, samples] → strided Conv1d frames → ReLU → mean over time → logits."""
    rng = np.random.default_rng(22)
    f = np.float32
    inits = [_init("ax1", np.array([1], np.int64)), _init("ax2", np.array([2], np.int64)),
             _init("frames_w", rng.normal(0, 0.2, (8, 1, 80)).astype(f)), _init("frames_b", np.zeros(8, f)),
             _init("fc_w", rng.normal(0, 0.5, (classes, 8)).astype(f)), _init("fc_b", np.zeros(classes, f))]
    n = helper.make_node
    nodes = [n("Unsqueeze", ["waveform", "ax1"], ["w3"], name="channel"),
             n("Conv", ["w3", "frames_w", "frames_b"], ["fr"], strides=[40], name="frames"),
             n("Relu", ["fr"], ["r"], name="relu"),
             n("ReduceMean", ["r"], ["pooled"], axes=[2], keepdims=0, name="time_mean"),
             n("Gemm", ["pooled", "fc_w", "fc_b"], ["logits"], transB=1, name="fc")]
    return _model(nodes, [helper.make_tensor_value_info("waveform", TensorProto.FLOAT, [1, samples])],
                  [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes])], inits, "waveform")


def uint8_pixels_classifier(classes: int = 10, size: int = 16) -> onnx.ModelProto:
    """uint8 pixels [1, 3, size, size] → Cast → /255 → Conv → pool → logits; no Q/DQ at the input."""
    rng = np.random.default_rng(23)
    f = np.float32
    inits = [_init("d255", np.array(255.0, f)), _init("conv_w", rng.normal(0, 0.3, (8, 3, 3, 3)).astype(f)),
             _init("conv_b", np.zeros(8, f)), _init("fc_w", rng.normal(0, 0.5, (classes, 8)).astype(f)),
             _init("fc_b", np.zeros(classes, f))]
    n = helper.make_node
    nodes = [n("Cast", ["pixels"], ["pf"], to=TensorProto.FLOAT, name="cast"),
             n("Div", ["pf", "d255"], ["x"], name="scale"),
             n("Conv", ["x", "conv_w", "conv_b"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             n("Relu", ["c"], ["r"], name="relu"), n("GlobalAveragePool", ["r"], ["g"], name="pool"),
             n("Flatten", ["g"], ["fl"], name="flatten"),
             n("Gemm", ["fl", "fc_w", "fc_b"], ["logits"], transB=1, name="fc")]
    return _model(nodes, [helper.make_tensor_value_info("pixels", TensorProto.UINT8, [1, 3, size, size])],
                  [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes])], inits, "uint8_pixels")


def nan_model() -> onnx.ModelProto:
    """sqrt(x - 2) for x in [0, 1): NaN for every input onnpu makes at random."""
    n = helper.make_node
    nodes = [n("Sub", ["x", "two"], ["d"], name="minus_two"), n("Sqrt", ["d"], ["y"], name="sqrt"),
             n("Relu", ["y"], ["z"], name="relu")]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                  [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 8])],
                  [_init("two", np.array(2.0, np.float32))], "nan")
