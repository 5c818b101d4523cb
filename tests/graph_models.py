"""Scenario models as people export them: shape computations, control flow, embedding lookups, and a torch-exported
detector whose head computes its anchors from the feature maps' shapes (as YOLOv8's does)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import models

OPSET = 17


def _model(nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto],
           inits: list[onnx.TensorProto], name: str) -> onnx.ModelProto:
    return models._model(nodes, inputs, outputs, inits, name, opset=OPSET, ir_version=8)


def _conv_weight(name: str, out: int, cin: int, k: int, seed: int) -> onnx.TensorProto:
    rng = np.random.default_rng(seed)
    return numpy_helper.from_array(rng.normal(0, 0.3, (out, cin, k, k)).astype(np.float32), name)


def shape_head(batch: str = "N") -> onnx.ModelProto:
    """Conv, then a head that reshapes with a target computed from ``Shape`` (Shape → Gather → Unsqueeze → Concat
    → Reshape), a Constant node, an Identity, a Cast round trip, and a dead branch whose output nobody uses."""
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("Identity", ["c"], ["c_id"], name="identity"),
        helper.make_node("Shape", ["c_id"], ["shape"], name="shape"),
        helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.array(0, np.int64)), name="zero"),
        helper.make_node("Gather", ["shape", "zero"], ["n"], axis=0, name="gather_n"),
        helper.make_node("Unsqueeze", ["n", "axes"], ["n1"], name="unsqueeze_n"),
        helper.make_node("Concat", ["n1", "minus_one"], ["target"], axis=0, name="concat_target"),
        helper.make_node("Reshape", ["c_id", "target"], ["flat"], name="reshape"),
        helper.make_node("Cast", ["flat"], ["flat64"], to=TensorProto.DOUBLE, name="cast_up"),
        helper.make_node("Cast", ["flat64"], ["flat32"], to=TensorProto.FLOAT, name="cast_down"),
        helper.make_node("Sigmoid", ["flat32"], ["y"], name="sigmoid"),
        helper.make_node("Relu", ["c"], ["unused"], name="dead_relu"),
    ]
    inits = [_conv_weight("w", 4, 3, 3, 1), numpy_helper.from_array(np.array([0], np.int64), "axes"),
             numpy_helper.from_array(np.array([-1], np.int64), "minus_one")]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 8, 8])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 256])], inits, "shape_head")


def _branch(name: str, op: str, weight: str, nested: bool = False) -> onnx.GraphProto:
    """A branch: Conv(x, weight) → op; optionally through an inner If on the batch size (a shape-only condition).
    Body nodes are left unnamed, as some exporters leave them."""
    nodes = [helper.make_node("Conv", ["x", weight], [f"{name}_c"], pads=[1, 1, 1, 1])]
    last = f"{name}_c"
    if nested:
        inner_then = helper.make_graph([helper.make_node("Relu", [last], ["inner_t"])], f"{name}_inner_then", [],
                                       [helper.make_tensor_value_info("inner_t", TensorProto.FLOAT, None)])
        inner_else = helper.make_graph([helper.make_node("Neg", [last], ["inner_e"])], f"{name}_inner_else", [],
                                       [helper.make_tensor_value_info("inner_e", TensorProto.FLOAT, None)])
        nodes += [helper.make_node("Shape", ["x"], [f"{name}_shape"]),
                  helper.make_node("Gather", [f"{name}_shape", "idx0"], [f"{name}_n"], axis=0),
                  helper.make_node("Equal", [f"{name}_n", "one64"], [f"{name}_single"]),
                  helper.make_node("If", [f"{name}_single"], [f"{name}_r"], then_branch=inner_then,
                                   else_branch=inner_else, name=f"{name}_batch_if")]
        last = f"{name}_r"
    nodes.append(helper.make_node(op, [last], [f"{name}_y"]))
    return helper.make_graph(nodes, name, [], [helper.make_tensor_value_info(f"{name}_y", TensorProto.FLOAT, None)])


def if_on_input(batch: int | str = 1) -> onnx.ModelProto:
    """``y = If(mode == 1, then: sigmoid(conv_a(x)) through an inner If on the batch size, else: relu(conv_b(x)))``:
    the whole network inside an If on a scalar int64 input, as Silero VAD's on its sample rate."""
    inits = [_conv_weight("wa", 4, 3, 3, 3), _conv_weight("wb", 4, 3, 3, 4),
             numpy_helper.from_array(np.array(1, np.int64), "one"),
             numpy_helper.from_array(np.array(0, np.int64), "idx0"),
             numpy_helper.from_array(np.array(1, np.int64), "one64")]
    nodes = [helper.make_node("Equal", ["mode", "one"], ["is_a"], name="mode_is_a"),
             helper.make_node("If", ["is_a"], ["y"], then_branch=_branch("a", "Sigmoid", "wa", nested=True),
                              else_branch=_branch("b", "Relu", "wb"), name="mode_if")]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 8, 8]),
                          helper.make_tensor_value_info("mode", TensorProto.INT64, [])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 4, 8, 8])], inits, "if_on_input")


def embedding(vocab: int = 50, types: int = 2) -> onnx.ModelProto:
    """Token ids (int64) and token types (int64) looked up in tables: valid ids are 0..vocab-1 and 0..types-1."""
    rng = np.random.default_rng(5)
    inits = [numpy_helper.from_array(rng.normal(0, 1, (vocab, 8)).astype(np.float32), "table"),
             numpy_helper.from_array(rng.normal(0, 1, (types, 8)).astype(np.float32), "type_table"),
             numpy_helper.from_array(rng.normal(0, 0.3, (8, 4)).astype(np.float32), "proj")]
    nodes = [helper.make_node("Gather", ["table", "ids"], ["emb"], name="lookup"),
             helper.make_node("Cast", ["types"], ["types32"], to=TensorProto.INT32, name="cast_types"),
             helper.make_node("Gather", ["type_table", "types32"], ["temb"], name="type_lookup"),
             helper.make_node("Add", ["emb", "temb"], ["sum"], name="add"),
             helper.make_node("MatMul", ["sum", "proj"], ["y"], name="project")]
    return _model(nodes, [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, 6]),
                          helper.make_tensor_value_info("types", TensorProto.INT64, [1, 6])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6, 4])], inits, "embedding")


TINY_DETECTOR = '''
import sys, warnings, torch, torch.nn as nn
warnings.simplefilter("ignore")

class TinyDetector(nn.Module):
    """A YOLO-style head: anchors and strides computed from the feature maps' shapes at run time."""
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.SiLU(), nn.Conv2d(8, 16, 3, 2, 1), nn.SiLU())
        self.down = nn.Sequential(nn.Conv2d(16, 16, 3, 2, 1), nn.SiLU())
        self.heads = nn.ModuleList([nn.Conv2d(16, 6, 1), nn.Conv2d(16, 6, 1)])

    def forward(self, x):
        f1 = self.stem(x)
        f2 = self.down(f1)
        outs, anchors, strides = [], [], []
        for f, head in zip((f1, f2), self.heads):
            b, _, h, w = f.shape
            stride = x.shape[2] / h
            sy, sx = torch.meshgrid(torch.arange(h, dtype=torch.float32) + 0.5,
                                    torch.arange(w, dtype=torch.float32) + 0.5, indexing="ij")
            anchors.append(torch.stack((sx, sy), -1).view(-1, 2))
            strides.append(torch.full((h * w, 1), stride))
            outs.append(head(f).view(b, 6, -1))
        y = torch.cat(outs, 2)
        a = torch.cat(anchors).transpose(0, 1).unsqueeze(0)
        s = torch.cat(strides).transpose(0, 1).unsqueeze(0)
        box, cls = y.split((2, 4), 1)
        return torch.cat(((a + box) * s, cls.sigmoid()), 1)

torch.manual_seed(0)
torch.onnx.export(TinyDetector().eval(), torch.rand(1, 3, 64, 64), sys.argv[1], input_names=["images"],
                  output_names=["output0"], opset_version=17, dynamo=False,
                  dynamic_axes={"images": {0: "batch", 2: "height", 3: "width"}, "output0": {0: "batch", 2: "anchors"}})
'''


def tiny_detector(path: Path) -> Path:
    """Exported by ``torch.onnx.export`` with dynamic batch/height/width (in a process of its own: torch is heavy)."""
    subprocess.run([sys.executable, "-c", TINY_DETECTOR, str(path)], check=True, capture_output=True)
    return path


def conv_lstm(hidden: int = 16, features: int = 8, length: int = 24) -> onnx.ModelProto:
    """Conv1d → LSTM over ``length - 2`` steps → Relu. Quantized as an LSTM, QNN builds it for HTP v73 but cannot
    finalize it for v68 (QCS6490): ``QNN_COMMON_ERROR_MEM_ALLOC`` from the LSTM on, naming no node (measured;
    Silero VAD failed the same way). onnpu unrolls an LSTM of up to 16 steps (then v68 takes it): the default
    length keeps this one an LSTM."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(0, 0.3, (1, 4 * hidden, features)).astype(np.float32), "W"),
             numpy_helper.from_array(rng.normal(0, 0.3, (1, 4 * hidden, hidden)).astype(np.float32), "R"),
             numpy_helper.from_array(rng.normal(0, 0.3, (features, 4, 1)).astype(np.float32), "w0")]
    nodes = [helper.make_node("Conv", ["x", "w0"], ["c"], name="conv"),
             helper.make_node("Transpose", ["c"], ["t"], perm=[2, 0, 1], name="to_sequence"),
             helper.make_node("LSTM", ["t", "W", "R"], ["y", "yh"], hidden_size=hidden, name="lstm"),
             helper.make_node("Relu", ["yh"], ["out"], name="relu")]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, length])],
                  [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 1, hidden])], inits, "conv_lstm")


def counting_loop(trips: int, cond_in_body: bool) -> onnx.ModelProto:
    """v = x + 1 per iteration; the condition handed back unchanged, or computed (v < 5): a while loop."""
    if cond_in_body:
        body_nodes = [helper.make_node("Add", ["v_in", "one"], ["v_out"]),
                      helper.make_node("ReduceMax", ["v_out"], ["top"], keepdims=0),
                      helper.make_node("Less", ["top", "five"], ["cond_out"])]
    else:
        body_nodes = [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
                      helper.make_node("Add", ["v_in", "one"], ["v_out"])]
    body = helper.make_graph(body_nodes, "body", [
        helper.make_tensor_value_info("i", TensorProto.INT64, []),
        helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
        helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [2])])
    graph = helper.make_graph([helper.make_node("Loop", ["M", "cond", "x"], ["y"], body=body)], "loop",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
                              [numpy_helper.from_array(np.array(trips, np.int64), "M"),
                               numpy_helper.from_array(np.array(True), "cond"),
                               numpy_helper.from_array(np.array(1.0, np.float32), "one"),
                               numpy_helper.from_array(np.array(5.0, np.float32), "five")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model
