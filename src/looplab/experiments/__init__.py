"""Experiments built on fit: comparisons and sweeps."""
