"""The baseline for start-up: a plain onnxruntime + Pillow classification script, as a new user writes it from
Qualcomm's Dragonwing ONNX page (imports, session, 11 runs, softmax, top-5). Usage: MODEL IMAGE LABELS."""

import sys

import numpy as np
import onnxruntime as ort
from PIL import Image

model_path, image_path, labels_path = sys.argv[1:4]
session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
inp = session.get_inputs()[0]
height, width = inp.shape[2], inp.shape[3]

image = Image.open(image_path).convert("RGB")
scale = max(height / image.height, width / image.width)
image = image.resize((round(image.width * scale), round(image.height * scale)), Image.BILINEAR)
left, top = (image.width - width) // 2, (image.height - height) // 2
image = image.crop((left, top, left + width, top + height))
x = (np.asarray(image, np.float32) - [123.675, 116.28, 103.53]) / [58.395, 57.12, 57.375]
x = x.transpose(2, 0, 1)[None].astype(np.float32)

for _ in range(11):
    logits = session.run(None, {inp.name: x})[0][0]
e = np.exp(logits - logits.max())
probs = e / e.sum()
with open(labels_path) as f:
    labels = f.read().splitlines()
for i in np.argsort(-probs)[:5]:
    print(f"{i} {labels[i]} {probs[i]:.4f}")
