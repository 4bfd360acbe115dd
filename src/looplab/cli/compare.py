"""`looplab compare`: (being written)."""
