"""The hand-built path, no autograd: each piece next to its PyTorch twin."""
