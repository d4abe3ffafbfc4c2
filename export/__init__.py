"""Export: checkpoints to self-describing ONNX, FP16 ONNX and TensorRT engines."""
