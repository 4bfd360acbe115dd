"""`looplab landscape`: (being written)."""
