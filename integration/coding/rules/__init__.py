"""Rule families of the claim scrubber, one module each (see integration.coding.engine)."""
