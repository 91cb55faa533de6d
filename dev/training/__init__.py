"""Training the uplifter (torch): network, losses, rotation maths, motion library, synthesis, the
training loop, warm starts and ONNX export."""
