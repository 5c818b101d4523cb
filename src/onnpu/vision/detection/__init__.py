"""Object detection: placing an image in the input (letterbox and its exact inverse), recognising the head a
model ends in, decoding it, class-aware NMS, the ``detect`` verb and its folder pipeline, drawing, COCO
results and evaluation. The decoder is a library of its own: ``decode(outputs, head)`` with a ``Head`` from
``recognise_head(shapes, input_size)``."""

from onnpu.vision.detection.decoding import Detections, decode
from onnpu.vision.detection.evaluate import CocoScores, evaluate_coco
from onnpu.vision.detection.heads import HEADS, Head, recognise_head
from onnpu.vision.detection.letterbox import Placement, place
from onnpu.vision.detection.suppression import box_iou, nms

__all__ = ["HEADS", "CocoScores", "Detections", "Head", "Placement", "box_iou", "decode", "evaluate_coco", "nms",
           "place", "recognise_head"]
