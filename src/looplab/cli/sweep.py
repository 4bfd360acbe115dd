"""`looplab sweep`: (being written)."""
