"""`looplab gradcheck`: (being written)."""
