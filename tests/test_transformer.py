"""Transformer encoders on the HTP: a BERT-style encoder (int64 ids + mask, embeddings, LayerNormalization, attention
with the mask torch's exporter writes — GatherND, Where(mask, 0, float's lowest), an IsNaN guard after Softmax —
and an Erf GELU feed-forward) is prepared by default with the transformer recipe (W8A16, LayerNorm scales uint8,
finite mask) and runs fully on the NPU of QCS6490 and QCS8550 at cosine ≥ 0.99 to the float model. The real
all-MiniLM-L6-v2 on real sentences is in the corpus benchmark (benchmarks/corpus_bench.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import models
from onnpu import get_target
from onnpu.quantization import transformer
from onnpu.quantization.config import QuantizeConfig
from onnpu.quantization.evaluate import run_on_cpu
from onnpu.runtime.feeds import run_feeds
from onnpu.runtime.session import create_session
from onnpu.tasks.prepare import prepare

SEQ, VOCAB, D, HEADS, FF = 16, 60, 32, 2, 64
LOWEST = float(np.finfo(np.float32).min)


def _encoder() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    inits: list[onnx.TensorProto] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(value, name))
        return name

    def linear(x: str, name: str, d_in: int, d_out: int) -> list[onnx.NodeProto]:
        w = const(f"{name}.w", rng.normal(0, d_in ** -0.5, (d_in, d_out)).astype(np.float32))
        b = const(f"{name}.b", rng.normal(0, 0.05, d_out).astype(np.float32))
        return [helper.make_node("MatMul", [x, w], [f"{name}.mm"], name=f"{name}_matmul"),
                helper.make_node("Add", [f"{name}.mm", b], [name], name=f"{name}_add")]

    def layernorm(x: str, name: str) -> onnx.NodeProto:
        g = const(f"{name}.gamma", rng.uniform(0.5, 1.5, D).astype(np.float32))
        b = const(f"{name}.beta", rng.normal(0, 0.1, D).astype(np.float32))
        return helper.make_node("LayerNormalization", [x, g, b], [name], axis=-1, epsilon=1e-12, name=name)

    head = D // HEADS
    nodes = [
        helper.make_node("Gather", [const("emb", rng.normal(0, 1, (VOCAB, D)).astype(np.float32)), "input_ids"],
                         ["tok"], name="embedding"),
        helper.make_node("Add", ["tok", const("pos", rng.normal(0, 0.3, (1, SEQ, D)).astype(np.float32))], ["emb_sum"],
                         name="positions"),
        layernorm("emb_sum", "ln0"),
        # the mask as torch.export writes it: bool, broadcast by a GatherND, -lowest where padded
        helper.make_node("Cast", ["attention_mask"], ["mask_bool"], to=TensorProto.BOOL, name="mask_cast"),
        helper.make_node("GatherND", ["mask_bool", const("mask_idx", np.stack(
            [np.zeros((1, 1, 1, SEQ), np.int64), np.arange(SEQ).reshape(1, 1, 1, SEQ)], -1))], ["mask_4d"],
            name="mask_gathernd"),
        helper.make_node("Where", ["mask_4d", const("zero", np.array(0.0, np.float32)),
                                   const("lowest", np.array(LOWEST, np.float32))], ["mask_bias"], name="mask_where"),
    ]
    for name in ("q", "k", "v"):
        nodes += linear("ln0", name, D, D)
        nodes.append(helper.make_node("Reshape", [name, const(f"{name}.shape", np.array([1, SEQ, HEADS, head],
                                                                                      np.int64))],
                                      [f"{name}.heads"], name=f"{name}_split"))
        perm = [0, 2, 3, 1] if name == "k" else [0, 2, 1, 3]
        nodes.append(helper.make_node("Transpose", [f"{name}.heads"], [f"{name}.t"], perm=perm, name=f"{name}_t"))
    nodes += [
        helper.make_node("MatMul", ["q.t", "k.t"], ["scores_raw"], name="scores"),
        helper.make_node("Mul", ["scores_raw", const("scale", np.array(head ** -0.5, np.float32))], ["scores_scaled"],
                         name="scale_scores"),
        helper.make_node("Add", ["scores_scaled", "mask_bias"], ["scores_masked"], name="apply_mask"),
        helper.make_node("Softmax", ["scores_masked"], ["probs"], axis=-1, name="softmax"),
        helper.make_node("IsNaN", ["probs"], ["probs_nan"], name="nan_check"),
        helper.make_node("Where", ["probs_nan", "zero", "probs"], ["probs_safe"], name="nan_guard"),
        helper.make_node("MatMul", ["probs_safe", "v.t"], ["context_heads"], name="context"),
        helper.make_node("Transpose", ["context_heads"], ["context_t"], perm=[0, 2, 1, 3], name="context_t"),
        helper.make_node("Reshape", ["context_t", const("merge", np.array([1, SEQ, D], np.int64))], ["context"],
                         name="merge_heads"),
    ]
    nodes += linear("context", "attn_out", D, D)
    nodes += [helper.make_node("Add", ["attn_out", "ln0"], ["res1"], name="residual1"), layernorm("res1", "ln1")]
    nodes += linear("ln1", "ff1", D, FF)
    nodes += [
        helper.make_node("Div", ["ff1", const("sqrt2", np.array(np.sqrt(2), np.float32))], ["ff_div"], name="gelu_div"),
        helper.make_node("Erf", ["ff_div"], ["ff_erf"], name="gelu_erf"),
        helper.make_node("Add", ["ff_erf", const("one", np.array(1.0, np.float32))], ["ff_erf1"], name="gelu_add"),
        helper.make_node("Mul", ["ff1", "ff_erf1"], ["ff_mul"], name="gelu_mul"),
        helper.make_node("Mul", ["ff_mul", const("half", np.array(0.5, np.float32))], ["gelu"], name="gelu_half"),
    ]
    nodes += linear("gelu", "ff2", FF, D)
    nodes += [helper.make_node("Add", ["ff2", "ln1"], ["res2"], name="residual2"),
              layernorm("res2", "last_hidden_state")]
    graph = helper.make_graph(
        nodes, "bert_style_encoder",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, SEQ]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [1, SEQ])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [1, SEQ, D])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model, full_check=True)
    return model


def _sentences(count: int, seed: int) -> list[dict[str, np.ndarray]]:
    """Token ids of 'sentences' of 5..16 tokens, padded with 0 and masked as a tokenizer would."""
    rng = np.random.default_rng(seed)
    feeds = []
    for _ in range(count):
        length = int(rng.integers(5, SEQ + 1))
        ids = np.zeros((1, SEQ), np.int64)
        ids[0, :length] = rng.integers(1, VOCAB, length)
        mask = (ids != 0).astype(np.int64)
        mask[0, 0] = 1
        feeds.append({"input_ids": ids, "attention_mask": mask})
    return feeds


def _pooled(hidden: list[np.ndarray], feeds: list[dict[str, np.ndarray]]) -> np.ndarray:
    """Mean over the real tokens, normalised: the sentence embedding."""
    rows = []
    for h, f in zip(hidden, feeds, strict=True):
        m = f["attention_mask"][0][:, None].astype(np.float32)
        v = (h[0] * m).sum(0) / m.sum()
        rows.append(v / np.linalg.norm(v))
    return np.array(rows)


def test_rewrites_keep_the_float_model_and_name_what_they_did() -> None:
    model = _encoder()
    assert transformer.is_transformer_encoder(model)
    assert not transformer.is_transformer_encoder(models.float_conv())  # a CNN keeps 8-bit activations
    adapted, said = transformer.adapt(model, transformer.static_shapes(model))
    ops = [n.op_type for n in adapted.graph.node]
    assert "GatherND" not in ops and "IsNaN" not in ops and ops.count("Where") == 1
    assert any("GatherND" in s for s in said) and any("-100" in s for s in said) and any("IsNaN" in s for s in said)
    feeds = _sentences(4, 1)
    before, after = run_on_cpu(model, feeds, exact=True), run_on_cpu(adapted, feeds, exact=True)
    for a, b in zip(before["last_hidden_state"], after["last_hidden_state"], strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.npu
def test_prepare_picks_w8a16_and_runs_fully_on_both_socs(tmp_path: Path) -> None:
    src = tmp_path / "encoder.onnx"
    onnx.save(_encoder(), str(src))
    calib = _sentences(24, 2)
    np.savez(tmp_path / "calib.npz", **{k: np.concatenate([f[k] for f in calib]) for k in calib[0]})
    held = _sentences(4, 3)
    reference = _pooled(run_on_cpu(onnx.load(str(src)), held, exact=False)["last_hidden_state"], held)
    for soc in ("qcs6490", "qcs8550"):
        out = tmp_path / f"encoder.{soc}.onnx"
        result = prepare(src, out, tmp_path / "calib.npz", config=QuantizeConfig(rounding="nearest"),
                         target=get_target("npu", soc=soc))
        assert result.quantization is not None and result.quantization.config.activations == "u16"
        assert any(n.startswith("recipe: transformer encoder: W8A16") for n in result.quantization.notes)
        assert result.npu is not None and result.npu.placement.fully_on_target
        session = create_session(out, get_target("npu", soc=soc).with_fallback(False))
        npu = _pooled(run_feeds(session, held)["last_hidden_state"], held)
        cosine = (npu * reference).sum(1)
        assert cosine.min() >= 0.99, (soc, cosine)
