"""Running trained models: classifiers from checkpoints or ONNX files, prediction, export,
streaming detection."""
