"""onnxruntime's errors in words: the message without its status prefix, source location and C++ signature
(``first_line``), the node a run failed in (``ort_error_text``), and what to do about a model it cannot load
(``load_hint``)."""

from __future__ import annotations

import re

import onnxruntime as ort

_STATUS = re.compile(r"^\d+ : [A-Z_]+ : ")  # "1 : FAIL : " before the message
# "/onnxruntime_src/…/model.cc:256 " before a C++ signature (after a space, a colon or at the start)
MIN_OPSET = 7  # onnxruntime's oldest kernels
_SOURCE = re.compile(r"(?:(?<=[\s:])|^)[\w./-]+\.(?:cc|cpp|h):\d+ ")
_FUNCTION = re.compile(r"[\w:~<>,*&]+")  # a function's bare name
_SIGNATURE = re.compile(r"(?:[\w:<>,*&]+ ){0,3}[\w<>~]*::[\w:<>~]*\(")  # [return type] scoped::name(


def _without_source(line: str) -> str:
    """``line`` without onnxruntime's source location and the function named after it: a C++ signature
    (``model.cc:256 onnxruntime::Model::Model(onnx::ModelProto&&, …) Unsupported model IR version``, a return type
    may come first) or a bare name (``tensorprotoutils.cc:1730 ValidateEmbeddedTensorProtoDataSizeAndShape
    Initializer 'w1': …``)."""
    found = _SOURCE.search(line)
    if found is None:
        return line
    signature = _SIGNATURE.match(line, found.end())
    if signature is None:
        bare = _FUNCTION.match(line, found.end())
        k = bare.end() if bare else found.end()
    else:  # past its parameter list, parentheses balanced
        k, depth = signature.end() - 1, 0
        while k < len(line):
            depth += {"(": 1, ")": -1}.get(line[k], 0)
            k += 1
            if depth == 0:
                break
    before, after = line[:found.start()].rstrip(), line[k:].strip()
    return f"{before} {after}".strip()


def first_line(text: str) -> str:
    """onnxruntime's error in one line, without its ``[ONNXRuntimeError] : 1 : FAIL :`` prefix and the source
    location and C++ signature it puts before the message."""
    line = text.strip().splitlines()[0] if text.strip() else text
    line = _STATUS.sub("", line.replace("[ONNXRuntimeError] : ", ""))
    return _without_source(line)[:300]


_NODE_FAILED = re.compile(r"running (\S+) node\. Name:'([^']*)' Status Message: (.*)", re.S)


def ort_error_text(exc: BaseException) -> tuple[str, str | None]:
    """An onnxruntime error in words, and the name of the node that failed (None when no node is named):
    ``node 'reshape' (Reshape) failed: The input tensor cannot be reshaped ...``."""
    raw = str(exc)
    if "[ONNXRuntimeError]" in raw:  # onnxruntime's own message, not a warning printed before it
        raw = raw[raw.index("[ONNXRuntimeError]"):]
    text = raw.replace("[ONNXRuntimeError] : ", "")
    node = _NODE_FAILED.search(text)
    if not node:
        return first_line(text), None
    op, name, status = node.groups()
    status = status.split("was false.", 1)[-1].strip().splitlines()[0] if status.strip() else "no message"
    return f"node {name!r} ({op}) failed: {status}", name


def load_hint(said: str) -> str:
    """What to do about onnxruntime's refusal to load a model, from its message."""
    old_op = re.search(r"Could not find an implementation for \w+\((\d+)\)", said)
    if "Missing opset" in said:
        return "every ONNX model names the operator set it was made for: export the model again"
    if old_op and int(old_op.group(1)) < MIN_OPSET:
        return (f"onnxruntime runs ONNX opset {MIN_OPSET} and later: convert the model "
                "(onnx.version_converter.convert_version(model, 17)) or export it again")
    if "IR version" in said or "opset" in said.lower():  # made by an ONNX newer than this onnxruntime
        return f"export the model with a released ONNX version this onnxruntime ({ort.__version__}) reads, or use a " \
               "newer onnxruntime"
    if "InferenceError]" in said:
        return "the model's own tensors disagree in shape or type: export the model again"
    return "check the model with `onnpu inspect`"
