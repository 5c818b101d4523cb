"""Models as files and graphs, no sessions: reading and writing ONNX files with their external data,
describing them (inputs, outputs, ops, quantization parameters), fixing shapes, graph transforms, and models
fetched from URLs."""
