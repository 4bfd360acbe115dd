"""`looplab runs`: (being written)."""
