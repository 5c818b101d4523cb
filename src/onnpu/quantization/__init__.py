"""Quantization for the HTP: the config, ONNX Runtime's QNN recipe, calibration data, evaluation on the exact
QDQ arithmetic, mixed precision, optimised weight rounding (with its layer statistics), and the ``quantize``
verb that runs them in order."""
