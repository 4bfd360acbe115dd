"""`looplab schedule`: (being written)."""
