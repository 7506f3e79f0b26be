"""Learning a device no shipped adapter knows: bounded exploration, draft checks, the owner's summary."""
