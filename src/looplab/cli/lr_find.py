"""`looplab lr-find`: (being written)."""
