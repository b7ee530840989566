"""The images domain: labelled 32x32 RGB images -> tensors in shards -> a PyTorch CNN and its predictions."""
